// Features, entitlements, quotas, access answers, usage by feature, events.
export {
  type AccessAnswer,
  type AccessReason,
  type CheckAccessInput,
  type ConsumeFeatureInput,
  type ConsumeFeatureResult,
  checkAccess,
  consumeFeature,
  type ReleaseFeatureInput,
  type ReleaseFeatureResult,
  type ReserveFeatureInput,
  type ReserveFeatureResult,
  releaseFeature,
  reserveFeature,
  type SettleFeatureInput,
  type SettleFeatureResult,
  settleFeature,
} from './access.ts'
export {
  blockCustomer,
  configureAccess,
  type GrantEntitlementByOperatorInput,
  grantEntitlementByOperator,
  listCustomerEntitlements,
  revokeEntitlement,
  unblockCustomer,
} from './access-admin.ts'
export {
  InsufficientCreditsAfterAllowance,
  NoEntitlement,
  QuotaExceeded,
} from './access-errors.ts'
export {
  type AuditPage,
  type AuditRecord,
  audited,
  type ListAuditInput,
  listAuditLog,
  recordAudit,
} from './audit.ts'
export { type Balance, type BalanceHold, type BalanceLot, getBalance } from './balance.ts'
// Payments: catalog, invoices, checkout, payments, refunds, subscriptions, reconciliation, relay.
export {
  archiveProduct,
  type CreateProductInput,
  createProduct,
  DEMO_CATALOG,
  getProduct,
  listProducts,
  type Product,
  type ProductKind,
  type ProductPatch,
  type ProductTerms,
  SUBSCRIPTION_DAYS,
  seedDemoCatalog,
  updateProduct,
} from './catalog.ts'
export {
  PRECHECK_MESSAGES,
  type PreCheckoutQueryInput,
  type PrecheckRefusal,
  type PrecheckResult,
  precheck,
} from './checkout.ts'
export {
  type ConsolePayment,
  exportPaymentsCsv,
  refundPaymentAsOperator,
  type SearchPaymentsInput,
  searchPayments,
} from './console-payments.ts'
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
  getCustomerQuotaUsage,
  type SearchCustomersInput,
  searchCustomers,
} from './customer-search.ts'
// Mini Apps: end-user sessions from Telegram init data, and what `me.*` reads and does.
export {
  type AuthenticatedCustomer,
  authenticateCustomerSession,
  type CreateCustomerSessionInput,
  CUSTOMER_TOKEN_PREFIX,
  type CustomerSession,
  CustomerSessionInvalid,
  type CustomerSessionPolicy,
  type CustomerSessionRejection,
  createCustomerSession,
  DEFAULT_CUSTOMER_SESSION_POLICY,
  endCustomerSession,
  InitDataRejected,
  type InitDataRejection,
  type InitDataUser,
  purgeCustomerSessions,
  type VerifiedInitData,
  verifyInitData,
} from './customer-sessions.ts'
export {
  type BuyAsCustomerInput,
  buyAsCustomer,
  type ConsumeAsCustomerInput,
  type CustomerScope,
  consumeAsCustomer,
  customerActivity,
  customerCatalog,
  customerEntitlements,
  customerQuotas,
  FeatureNotClientConsumable,
  type MiniAppInvoice,
  seedMiniAppFeatures,
} from './customer-view.ts'
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
export { DEMO_PROMPT_TOKENS, seedDemoFeatures } from './demo-features.ts'
export {
  accessEnd,
  type EntitlementSource,
  type GrantEntitlementInput,
  grantEntitlement,
  listEntitlements,
  revokeEntitlementsOfPayment,
} from './entitlements.ts'
export * from './errors.ts'
export {
  type EventType,
  emitLatched,
  type LatchedEvent,
  type PolledEvent,
  pollEvents,
} from './events.ts'
export { expireDue, sweepExpired } from './expiry.ts'
export {
  archiveFeature,
  creditsFor,
  type DefineFeatureInput,
  defineFeature,
  FEATURE_KEY,
  type Feature,
  type FeatureKind,
  findFeature,
  listFeatures,
} from './features.ts'
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
  getRelayStatus,
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
  type CreateInvoiceInput,
  createInvoice,
  DEFAULT_ORDER_TTL_SECONDS,
  type Invoice,
} from './orders.ts'
export {
  BotTokenMissing,
  ProductKeyTaken,
  ProductUnavailable,
  TelegramCallFailed,
} from './payment-errors.ts'
export {
  getPayment,
  listPayments,
  type PayerInput,
  type Payment,
  type PaymentChannel,
  type PaymentFlag,
  type PaymentOutcome,
  type RecordPaymentInput,
  recordPayment,
  type SuccessfulPaymentInput,
} from './payments.ts'
export {
  getTelegramSettings,
  projectBotToken,
  projectsWithBotToken,
  relayProject,
  setBotToken,
  setRelaySettings,
} from './project-telegram.ts'
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
  listQuotas,
  type Quota,
  type QuotaScope,
  type QuotaState,
  type QuotaView,
  removeQuota,
  type SetQuotaInput,
  setQuota,
} from './quotas.ts'
export {
  type Finding,
  type FindingKind,
  listReconciliationFindings,
  listReconciliationRuns,
  type ReconcileInput,
  type ReconcileResult,
  reconcile,
  resolveFinding,
} from './reconciliation.ts'
export {
  type RefundActor,
  type RefundedPaymentInput,
  type RefundOutcome,
  type RefundPaymentInput,
  recordRefund,
  refundPayment,
  revokePayment,
} from './refunds.ts'
export {
  type ClaimedUpdate,
  claimRelayUpdates,
  getRelayUpdate,
  markRelayFailed,
  markRelayForwarded,
  releaseRelayClaim,
  storeRelayUpdate,
} from './relay-inbox.ts'
export {
  createSecrets,
  generateSecretKey,
  type OrderRefCheck,
  parseSecretKey,
  type Secrets,
} from './secrets.ts'
export { cancelSubscription, listSubscriptions, type Subscription } from './subscriptions.ts'
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
export {
  calendarWindow,
  type QuotaPeriod,
  type QuotaWindow,
  type QuotaWindowKind,
  quotaWindow,
  rollingWindow,
} from './windows.ts'
