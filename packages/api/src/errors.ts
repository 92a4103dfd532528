import {
  BillingError,
  CustomerBlocked,
  CustomerSessionInvalid,
  FeatureNotClientConsumable,
  HoldNotActive,
  IdempotencyConflict,
  InitDataRejected,
  InsufficientCredits,
  InvalidCredentials,
  InvalidInput,
  NoEntitlement,
  NotFound,
  ProductKeyTaken,
  QuotaExceeded,
  TelegramCallFailed,
  TooManyLoginAttempts,
} from '@e-stars/billing'
import { TRPCError } from '@trpc/server'

type Code = TRPCError['code']

/** One place for the domain-error → tRPC-code table. */
export function codeFor(error: BillingError): Code {
  if (error instanceof InsufficientCredits) return 'PRECONDITION_FAILED'
  if (error instanceof IdempotencyConflict) return 'CONFLICT'
  if (error instanceof HoldNotActive) return 'CONFLICT'
  if (error instanceof NotFound) return 'NOT_FOUND'
  if (error instanceof CustomerBlocked) return 'FORBIDDEN'
  if (error instanceof QuotaExceeded) return 'PRECONDITION_FAILED'
  if (error instanceof NoEntitlement) return 'FORBIDDEN'
  if (error instanceof InvalidInput) return 'BAD_REQUEST'
  if (error instanceof InvalidCredentials) return 'UNAUTHORIZED'
  if (error instanceof TooManyLoginAttempts) return 'TOO_MANY_REQUESTS'
  if (error instanceof InitDataRejected) return 'UNAUTHORIZED'
  if (error instanceof CustomerSessionInvalid) return 'UNAUTHORIZED'
  if (error instanceof FeatureNotClientConsumable) return 'FORBIDDEN'
  if (error instanceof ProductKeyTaken) return 'CONFLICT'
  if (error instanceof TelegramCallFailed)
    return error.transient ? 'SERVICE_UNAVAILABLE' : 'PRECONDITION_FAILED'
  return 'PRECONDITION_FAILED'
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
