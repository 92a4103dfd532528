export {
  type AuditPage,
  type AuditRecord,
  type ListAuditInput,
  listAuditLog,
  recordAudit,
} from './audit.ts'
export { type Balance, type BalanceHold, type BalanceLot, getBalance } from './balance.ts'
export {
  type GrantCreditsInput,
  type GrantResult,
  type GrantSource,
  grantCredits,
} from './credits.ts'
export {
  type CustomerDetail,
  type CustomerSearchPage,
  type CustomerSummary,
  getCustomerDetail,
  type SearchCustomersInput,
  searchCustomers,
} from './customer-search.ts'
export {
  type Customer,
  getCustomer,
  type LockedCustomer,
  lockCustomer,
  lockCustomerById,
  type TelegramProfile,
  type UpsertCustomerInput,
  upsertAndLockCustomer,
  upsertCustomer,
} from './customers.ts'
export {
  accessEnd,
  type EntitlementSource,
  type GrantEntitlementInput,
  grantEntitlement,
  listEntitlements,
  revokeEntitlementsOfPayment,
} from './entitlements.ts'
export * from './errors.ts'
export { expireDue, sweepExpired } from './expiry.ts'
export { idempotent } from './idempotency.ts'
export {
  appendEntry,
  type EntryDraft,
  type EntryKind,
  type LedgerPage,
  type ListLedgerInput,
  listLedger,
} from './ledger.ts'
export {
  daysBetween,
  getOverview,
  type Overview,
  type OverviewDay,
  type OverviewInput,
} from './metrics.ts'
export {
  type AdjustCreditsInput,
  type AdjustCreditsResult,
  adjustCredits,
  createProjectApiKey,
  getProjectSettings,
  isTimeZone,
  type ProjectSettings,
  revokeProjectApiKey,
  type UpdateProjectSettingsInput,
  updateProjectSettings,
} from './operator-actions.ts'
export {
  type AuthenticatedSession,
  authenticateSession,
  csrfMatches,
  DEFAULT_SESSION_POLICY,
  hashSessionToken,
  type LoginInput,
  type LoginResult,
  listOperatorProjects,
  login,
  logout,
  membershipOf,
  type OperatorIdentity,
  type OperatorProject,
  purgeOperatorSessions,
  type SessionPolicy,
} from './operator-sessions.ts'
export {
  type CreateOperatorInput,
  createOperator,
  hashPassword,
  type OperatorRole,
  verifyPassword,
} from './operators.ts'
export {
  authenticateApiKey,
  type CreateProjectInput,
  createApiKey,
  createProject,
  hashApiKey,
  listApiKeys,
  listProjects,
  revokeApiKey,
} from './projects.ts'
export {
  actorName,
  type DescribableEntry,
  describeEntry,
  type EntryDescription,
  formatCount,
  type ListTimelineInput,
  listTimeline,
  type TimelineEntry,
  type TimelinePage,
} from './timeline.ts'
export {
  type ConsumeInput,
  type ConsumeResult,
  consume,
  DEFAULT_HOLD_TTL_SECONDS,
  MAX_HOLD_TTL_SECONDS,
  type ReleaseInput,
  type ReleaseResult,
  type ReserveInput,
  type ReserveResult,
  release,
  reserve,
  type SettleInput,
  type SettleResult,
  settle,
} from './usage.ts'
