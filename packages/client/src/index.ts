/**
 * The typed client for an e-Stars server: `createEStarsClient({ url, apiKey })`, the API's
 * types (`AppRouter`, `RouterInputs`, `RouterOutputs` and the named results below), and helpers
 * that read a refusal's domain facts (`isInsufficientCredits`, `isQuotaExceeded`,
 * `billingErrorOf`). The code and the types are the server's own, bundled: nothing here
 * depends on the server at run time.
 */
import type { RouterInputs, RouterOutputs } from '@e-stars/api/client'

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

/** A customer as e-Stars knows them (`customers.get`, `customers.upsert`). */
export type Customer = RouterOutputs['customers']['get']
/** A product of the catalog (`products.list`). */
export type Product = RouterOutputs['products']['list'][number]
/** A recorded Stars payment (`payments.get`, `payments.list`). */
export type Payment = RouterOutputs['payments']['get']
/** A Stars subscription (`payments.subscriptions`). */
export type Subscription = RouterOutputs['payments']['subscriptions'][number]
/** A page of the ledger, newest first (`ledger.list`). */
export type LedgerPage = RouterOutputs['ledger']['list']
/** Entitlements in force or starting later, and access per feature (`entitlements.list`). */
export type EntitlementList = RouterOutputs['entitlements']['list']
/** What `credits.grant` takes. */
export type GrantInput = RouterInputs['credits']['grant']
/** What `usage.consumeFeature` takes. */
export type ConsumeFeatureInput = RouterInputs['usage']['consumeFeature']
export { verifyWebhook, type WebhookEvent, WebhookSignatureError } from './webhooks.ts'
