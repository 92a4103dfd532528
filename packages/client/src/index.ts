/**
 * The typed client for an e-Stars server: `createEStarsClient({ url, apiKey })`, the API's
 * types (`AppRouter`, `RouterInputs`, `RouterOutputs` and the named results below), and helpers
 * that read a refusal's domain facts (`isInsufficientCredits`, `isQuotaExceeded`,
 * `billingErrorOf`). The code and the types are the server's own, bundled: nothing here
 * depends on the server at run time.
 */
export {
  type AppRouter,
  type BillingErrorFacts,
  billingErrorOf,
  createEStarsClient,
  type EStarsClient,
  type EStarsClientOptions,
  type EStarsErrorData,
  type EStarsErrorShape,
  type InputErrors,
  type InsufficientCreditsFacts,
  isIdempotencyConflict,
  isInsufficientCredits,
  isQuotaExceeded,
  type QuotaExceededFacts,
  type RouterInputs,
  type RouterOutputs,
} from '@e-stars/api/client'
export type {
  AccessAnswer as AccessCheck,
  Balance,
  ConsumeFeatureResult,
  ConsumeResult,
  CustomerSession,
  Feature,
  GrantResult,
  Invoice,
  MiniAppInvoice,
  PaymentOutcome,
  PolledEvent,
  PrecheckResult,
  Quota,
  ReconcileResult,
  RefundOutcome,
  ReleaseFeatureResult,
  ReleaseResult,
  ReserveFeatureResult,
  ReserveResult,
  SettleFeatureResult,
  SettleResult,
} from '@e-stars/billing'
