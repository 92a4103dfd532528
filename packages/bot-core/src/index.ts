// The public API both adapters re-export (`export * from '@e-stars/bot-core'`), under the same
// names in @e-stars/telegraf and @e-stars/grammy.
export {
  type AccessAnswer,
  type BalanceView,
  Billing,
  type EntitlementList,
  type FeatureConsumption,
  type FeatureReservation,
  type FeatureSettlement,
  type Invoice,
  type Metered,
  type MeterOptions,
  type MeterOutcome,
  NoUserError,
  type SentInvoice,
} from './billing.ts'
export {
  type BulkItem,
  type BulkMeter,
  type BulkMeterOptions,
  type BulkOutcome,
  createBulkMeter,
  MAX_BULK_ITEMS,
} from './bulk.ts'
export type { EStarsOptions } from './core.ts'
export { CustomerCache, type TelegramUserLike } from './customers.ts'
export {
  type BillingEvent,
  type EventWatcher,
  type EventWatcherOptions,
  watchEvents,
} from './events.ts'
export { consoleLogger, errorFields, type Logger } from './logger.ts'
export { DEFAULT_MESSAGES, type EStarsMessages } from './messages.ts'
export {
  CHECKOUT_UNAVAILABLE_MESSAGE,
  decidePreCheckout,
  type PaymentRecording,
  type PrecheckDecision,
  type RecordedPayment,
  type RecordedRefund,
  recordRefundedPayment,
  recordSuccessfulPayment,
} from './payments.ts'
export { DEFAULT_PAY_SUPPORT_INTRO, type PaySupportOptions } from './support.ts'
export { DEFAULT_RECORD_RETRY, isTransient, type RetryPolicy, withRetries } from './transient.ts'
