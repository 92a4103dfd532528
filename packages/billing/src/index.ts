// Features, entitlements, quotas, access answers, usage by feature, events.

// Payments: catalog, invoices, checkout, payments, refunds, subscriptions, reconciliation, relay.
export { type ApplyOutcome, type ApplyProductResult, applyCatalog } from './catalog/apply.ts'
export {
  archiveProduct,
  type CreateProductInput,
  createProduct,
  DEMO_CATALOG,
  getProduct,
  listProducts,
  type PaidMediaItem,
  type Product,
  type ProductKind,
  type ProductPatch,
  type ProductTerms,
  SUBSCRIPTION_DAYS,
  seedDemoCatalog,
  updateProduct,
} from './catalog/products.ts'
export { DEMO_PROMPT_TOKENS, seedDemoFeatures } from './demo/features.ts'
export * from './errors.ts'
export {
  type AuditPage,
  type AuditRecord,
  audited,
  type ListAuditInput,
  listAuditLog,
  recordAudit,
} from './identity/audit.ts'
// Mini Apps: end-user sessions from Telegram init data, and what `me.*` reads and does.
export {
  type AuthenticatedCustomer,
  authenticateCustomerSession,
  type CreateCustomerSessionInput,
  CUSTOMER_TOKEN_PREFIX,
  type CustomerSession,
  type CustomerSessionPolicy,
  createCustomerSession,
  DEFAULT_CUSTOMER_SESSION_POLICY,
  endCustomerSession,
  type InitDataUser,
  initDataText,
  MAX_LIVE_SESSIONS_PER_CUSTOMER,
  purgeCustomerSessions,
  type VerifiedInitData,
  verifyInitData,
} from './identity/customer-sessions.ts'
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
} from './identity/operator-sessions.ts'
export {
  type CreateOperatorInput,
  createOperator,
  hashPassword,
  type OperatorRole,
  resetOperatorPassword,
  verifyPassword,
} from './identity/operators.ts'
export { checkProjectId, checkProjectRules, isTimeZone } from './identity/project-rules.ts'
export {
  createProjectApiKey,
  getProjectSettings,
  getRelayStatus,
  type ProjectSettings,
  revokeProjectApiKey,
  type UpdateProjectSettingsInput,
  updateProjectSettings,
} from './identity/project-settings.ts'
export {
  getTelegramSettings,
  projectBotToken,
  projectsWithBotToken,
  relayProject,
  setBotToken,
  setRelaySettings,
  type TargetRule,
} from './identity/project-telegram.ts'
export {
  authenticateApiKey,
  type CreateProjectInput,
  createApiKey,
  createProject,
  hashApiKey,
  listApiKeys,
  listProjects,
  revokeApiKey,
} from './identity/projects.ts'
export {
  createSecrets,
  generateSecretKey,
  type OrderRefCheck,
  parseSecretKey,
  type Secrets,
} from './identity/secrets.ts'
export {
  type AdjustCreditsInput,
  type AdjustCreditsResult,
  adjustCredits,
} from './ledger/adjust.ts'
export { type Balance, type BalanceHold, type BalanceLot, getBalance } from './ledger/balance.ts'
export {
  type Customer,
  getCustomer,
  type TelegramProfile,
  type UpsertCustomerInput,
  upsertCustomer,
} from './ledger/customers.ts'
export {
  type EntryKind,
  type LedgerPage,
  type ListLedgerInput,
  listLedger,
} from './ledger/entries.ts'
export {
  type EventType,
  type LatchedEvent,
  type PolledEvent,
  pollEvents,
} from './ledger/events.ts'
export { expireDue, sweepExpired } from './ledger/expiry.ts'
export {
  type GrantCreditsInput,
  type GrantResult,
  type GrantSource,
  grantCredits,
} from './ledger/grant.ts'
export {
  type LedgerFinding,
  type LedgerProblem,
  type LedgerVerification,
  type VerifyLedgerInput,
  verifyLedger,
} from './ledger/verify.ts'
export * from './margin/index.ts'
export {
  PRECHECK_MESSAGES,
  type PreCheckoutQueryInput,
  type PrecheckRefusal,
  type PrecheckResult,
  precheck,
} from './payments/checkout.ts'
export {
  type CreateInvoiceInput,
  createInvoice,
  DEFAULT_ORDER_TTL_SECONDS,
  type Invoice,
} from './payments/orders.ts'
export {
  type PaidMediaOffer,
  type PaidMediaPurchaseInput,
  type PaidMediaPurchaseOutcome,
  recordPaidMediaPurchase,
  type SendPaidMediaParams,
  sendPaidMediaProduct,
} from './payments/paid-media.ts'
export {
  getPayment,
  listPayments,
  NANOSTARS_PER_STAR,
  type PayerInput,
  type Payment,
  type PaymentChannel,
  type PaymentFlag,
  type PaymentOutcome,
  paidMediaChargeId,
  type RecordPaymentInput,
  recordPayment,
  type StarsReceived,
  type SuccessfulPaymentInput,
} from './payments/payments.ts'
export {
  type Finding,
  type FindingKind,
  listReconciliationFindings,
  listReconciliationRuns,
  type ReconcileInput,
  type ReconcileResult,
  reconcile,
  resolveFinding,
  starsReceived,
  summaryWords,
} from './payments/reconciliation.ts'
export * from './payments/refund-abuse.ts'
export {
  type RefundActor,
  type RefundedPaymentInput,
  type RefundOutcome,
  type RefundPaymentInput,
  recordRefund,
  refundPayment,
} from './payments/refunds.ts'
export {
  type ClaimedUpdate,
  claimRelayUpdates,
  getRelayUpdate,
  markRelayFailed,
  markRelayForwarded,
  releaseRelayClaim,
  storeRelayUpdate,
} from './payments/relay-inbox.ts'
export {
  accessEndOf,
  applyRenewalState,
  cancelSubscription,
  listSubscriptions,
  type RenewalState,
  type RenewalStateSource,
  recordSubscriptionUpdate,
  renewingSubscriptionIds,
  type Subscription,
  type SubscriptionUpdateInput,
  type SubscriptionUpdateOutcome,
  stopRenewalsAfter,
  subscriptionHistory,
} from './payments/subscriptions.ts'
export {
  listStarOutflows,
  starsText,
  storeStarTransactions,
  type Treasury,
  type TreasuryOutflow,
  treasury,
} from './payments/treasury.ts'
export {
  blockCustomer,
  configureAccess,
  type GrantEntitlementByOperatorInput,
  grantEntitlementByOperator,
  listCustomerEntitlements,
  revokeEntitlement,
  unblockCustomer,
} from './usage/access-admin.ts'
export {
  type ConsumeFeatureItem,
  type ConsumeItem,
  consumeFeatureGrouped,
  consumeFeatureMany,
  consumeMany,
  type ItemOutcome,
  MAX_BATCH_ITEMS,
  releaseFeatureGrouped,
  reserveFeatureGrouped,
  settleFeatureGrouped,
} from './usage/batch.ts'
export { type ConsumeInput, type ConsumeResult, consume } from './usage/consume.ts'
export {
  accessEnd,
  type EntitlementSource,
  type GrantEntitlementInput,
  listEntitlements,
} from './usage/entitlements.ts'
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
} from './usage/feature-usage.ts'
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
} from './usage/features.ts'
export {
  type ActCustomer,
  configureGroupCommit,
  DEFAULT_GROUP_COMMIT,
  type GroupCommitOptions,
  groupCommitStats,
  grouped,
} from './usage/group-commit.ts'
export {
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
} from './usage/holds.ts'
export {
  listQuotas,
  type Quota,
  type QuotaScope,
  type QuotaState,
  type QuotaView,
  type SetQuotaInput,
  setQuota,
} from './usage/quotas.ts'
export {
  calendarWindow,
  type QuotaPeriod,
  type QuotaWindow,
  type QuotaWindowKind,
  quotaWindow,
  rollingWindow,
} from './usage/windows.ts'
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
  type MiniAppInvoice,
  seedMiniAppFeatures,
} from './views/customer-app.ts'
export {
  type CustomerDetail,
  type CustomerSearchPage,
  type CustomerSummary,
  getCustomerDetail,
  getCustomerQuotaUsage,
  type SearchCustomersInput,
  searchCustomers,
} from './views/customer-search.ts'
export {
  getOverview,
  type Overview,
  type OverviewDay,
  type OverviewInput,
} from './views/overview.ts'
export {
  type ConsolePayment,
  exportPaymentsCsv,
  refundPaymentAsOperator,
  type SearchPaymentsInput,
  searchPayments,
} from './views/payments.ts'
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
} from './views/timeline.ts'
export * from './webhooks/index.ts'
