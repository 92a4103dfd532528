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
export { openApiDocument, REST_BASE_PATH } from './rest/document.ts'
export {
  createRestHandler,
  PROBLEM_CONTENT_TYPE,
  type Problem,
  problemResponse,
  type RestRequest,
  type RestResponse,
} from './rest/handler.ts'
export { NOT_BOT_FACING, type RestRoute, restRoutes } from './rest/routes.ts'
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
