export { BOT_API_METHODS, type BotApiMethod } from './bot-api.ts'
export { VirtualClock } from './clock.ts'
export { controlHeaders } from './control-access.ts'
export { controlRoutes } from './control-http.ts'
export type { WebhookAttempt } from './delivery.ts'
export { type Emitted, observeEmitted } from './emitted.ts'
export { BotApiError, SandboxError, type SandboxErrorCode } from './errors.ts'
export {
  type MiniAppHostOptions,
  miniAppHost,
  SANDBOX_THEMES,
  type SandboxTheme,
  signInitData,
  telegramWebAppStandIn,
} from './miniapp-host.ts'
export {
  type BotInfo,
  type BotSelector,
  type ControlCall,
  createSandbox,
  DEMO_BOT,
  type InvoiceLinkInfo,
  type InvoiceRef,
  Sandbox,
  type SandboxExtension,
  type SandboxOptions,
  type StarAmountInput,
  type SubscriptionChange,
  type SubscriptionInfo,
  type WaitForMessageOptions,
} from './sandbox.ts'
export {
  NANOSTARS_PER_STAR,
  netNanostarsOf,
  PAID_MEDIA_MAX_STARS,
  PAID_MEDIA_MIN_STARS,
  SUBSCRIPTION_MAX_PRICE,
  SUBSCRIPTION_PERIOD_SECONDS,
} from './stars.ts'
export type * from './types.ts'
export type {
  CreateBotInput,
  CreateUserInput,
  PaymentResult,
  Referral,
  RenewalResult,
  StoredFile,
} from './world.ts'
