import type { AnyBillingError, BillingErrorCode } from '@e-stars/billing'
import { BillingError } from '@e-stars/billing'
import { TRPCError } from '@trpc/server'

type Code = TRPCError['code']

/**
 * The one domain-error → tRPC-code table, keyed by the error's stable `code`. Typed over every
 * code the engine has, so a new error without a row here does not compile.
 */
const TRPC_CODE: {
  [K in BillingErrorCode]: Code | ((error: Extract<AnyBillingError, { code: K }>) => Code)
} = {
  INSUFFICIENT_CREDITS: 'PRECONDITION_FAILED',
  QUOTA_EXCEEDED: 'PRECONDITION_FAILED',
  IDEMPOTENCY_CONFLICT: 'CONFLICT',
  HOLD_NOT_ACTIVE: 'CONFLICT',
  PRODUCT_KEY_TAKEN: 'CONFLICT',
  CONCURRENT_UPDATE: 'CONFLICT',
  NOT_FOUND: 'NOT_FOUND',
  CUSTOMER_BLOCKED: 'FORBIDDEN',
  NO_ENTITLEMENT: 'FORBIDDEN',
  FEATURE_NOT_CLIENT_CONSUMABLE: 'FORBIDDEN',
  INVALID_INPUT: 'BAD_REQUEST',
  INVALID_CREDENTIALS: 'UNAUTHORIZED',
  INIT_DATA_REJECTED: 'UNAUTHORIZED',
  CUSTOMER_SESSION_INVALID: 'UNAUTHORIZED',
  TOO_MANY_LOGIN_ATTEMPTS: 'TOO_MANY_REQUESTS',
  PRODUCT_UNAVAILABLE: 'PRECONDITION_FAILED',
  BOT_TOKEN_MISSING: 'PRECONDITION_FAILED',
  UNPRICED_MODEL: 'PRECONDITION_FAILED',
  COST_CAP_REACHED: 'PRECONDITION_FAILED',
  MARGIN_FLOOR_BREACHED: 'PRECONDITION_FAILED',
  TELEGRAM_CALL_FAILED: (error) =>
    error.transient ? 'SERVICE_UNAVAILABLE' : 'PRECONDITION_FAILED',
}

export function codeFor(error: BillingError): Code {
  const known = error as AnyBillingError
  const entry = TRPC_CODE[known.code] as Code | ((error: AnyBillingError) => Code) | undefined
  if (entry === undefined) return 'INTERNAL_SERVER_ERROR'
  return typeof entry === 'function' ? entry(known) : entry
}

export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error
  if (error instanceof BillingError)
    return new TRPCError({ code: codeFor(error), message: error.message, cause: error })
  return new TRPCError({
    code: 'INTERNAL_SERVER_ERROR',
    cause: error instanceof Error ? error : undefined,
  })
}
