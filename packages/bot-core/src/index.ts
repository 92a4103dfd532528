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
  type BotChannel,
  type LinkKeyboard,
  type SentMessage,
  type StarsInvoiceParams,
  tell,
} from './channel.ts'
export {
  createEStarsCore,
  type EStarsCore,
  type EStarsOptions,
  type PaymentEvent,
  paymentOf,
  type UpdateOutcome,
} from './core.ts'
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
export {
  answerPaySupport,
  DEFAULT_PAY_SUPPORT_INTRO,
  type PaySupportOptions,
  paySupportText,
} from './support.ts'
export { DEFAULT_RECORD_RETRY, isTransient, type RetryPolicy, withRetries } from './transient.ts'
