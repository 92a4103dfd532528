export { ApiKeyCache } from './api-key-cache.ts'
export {
  billingErrorOf,
  createEStarsClient,
  type EStarsClient,
  type EStarsClientOptions,
  type InsufficientCreditsFacts,
  isIdempotencyConflict,
  isInsufficientCredits,
  isQuotaExceeded,
  type QuotaExceededFacts,
} from './client.ts'
export type {
  BillingErrorFacts,
  ClientRouter,
  EStarsErrorData,
  EStarsErrorShape,
  InputErrors,
} from './client-router.ts'
export {
  ATTEMPT_LIMITS,
  type AttemptCounter,
  type AttemptLimit,
  type AttemptLimits,
  addressKey,
  type LimitName,
  SignInsLimited,
} from './limits.ts'
export {
  actorOf,
  createPaymentServices,
  type PaymentServices,
  paymentProcedure,
} from './payment-services.ts'
export {
  type AppRouter,
  appRouter,
  clientProcedures,
  type RouterInputs,
  type RouterOutputs,
} from './root.ts'
export {
  createHttpContextFactory,
  type HttpContextOptions,
  readCookie,
  SESSION_COOKIE,
  sessionCookieHeader,
} from './server.ts'
export {
  type ApiDependencies,
  type Context,
  createCallerFactory,
  createInnerContext,
  type Logger,
  type SessionCookie,
} from './trpc.ts'
