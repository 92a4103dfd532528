/** Parsed from Telegram's error description (or its HTTP code when the text says nothing more). */
export type TelegramErrorCode =
  | 'CHARGE_ALREADY_REFUNDED'
  | 'CHARGE_NOT_FOUND'
  | 'CHARGE_ID_EMPTY'
  | 'USER_ID_INVALID'
  | 'QUERY_TOO_OLD'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'TOO_MANY_REQUESTS'
  | 'CONFLICT'
  | 'BAD_REQUEST'
  | 'UNKNOWN'

/** Shape of a failed Bot API reply. */
export interface TelegramErrorResponse {
  ok: false
  error_code: number
  description: string
  parameters?: { retry_after?: number; migrate_to_chat_id?: number }
}

/** Common base so callers can catch everything this package throws about a call. */
export abstract class TelegramError extends Error {
  abstract readonly method: string
  /** True when repeating the same call later may succeed. */
  abstract readonly transient: boolean
}

const KNOWN_DESCRIPTION_CODES = [
  'CHARGE_ALREADY_REFUNDED',
  'CHARGE_NOT_FOUND',
  'CHARGE_ID_EMPTY',
  'USER_ID_INVALID',
] as const

export function parseErrorCode(errorCode: number, description: string): TelegramErrorCode {
  for (const code of KNOWN_DESCRIPTION_CODES) {
    if (description.includes(code)) return code
  }
  if (/query is too old/i.test(description)) return 'QUERY_TOO_OLD'
  switch (errorCode) {
    case 401:
      return 'UNAUTHORIZED'
    case 404:
      return 'NOT_FOUND'
    case 409:
      return 'CONFLICT'
    case 429:
      return 'TOO_MANY_REQUESTS'
    case 400:
      return 'BAD_REQUEST'
    default:
      return 'UNKNOWN'
  }
}

/** Telegram answered `{ ok: false }`. */
export class TelegramApiError extends TelegramError {
  override readonly name = 'TelegramApiError'
  readonly method: string
  readonly errorCode: number
  readonly description: string
  readonly code: TelegramErrorCode
  /** Seconds to wait before retrying (429 only). */
  readonly retryAfter: number | undefined
  readonly transient: boolean

  constructor(method: string, response: Omit<TelegramErrorResponse, 'ok'>) {
    const code = parseErrorCode(response.error_code, response.description)
    super(`Telegram ${method} failed (${response.error_code} ${code}): ${response.description}`)
    this.method = method
    this.errorCode = response.error_code
    this.description = response.description
    this.code = code
    this.retryAfter = code === 'TOO_MANY_REQUESTS' ? response.parameters?.retry_after : undefined
    // 429 and 5xx were not executed (or failed inside Telegram): safe to ask again later.
    this.transient = code === 'TOO_MANY_REQUESTS' || response.error_code >= 500
  }

  toJSON() {
    return {
      name: this.name,
      method: this.method,
      errorCode: this.errorCode,
      description: this.description,
      code: this.code,
      retryAfter: this.retryAfter,
      transient: this.transient,
    }
  }
}

export type NetworkFailure = 'timeout' | 'connection' | 'bad_response' | 'aborted'

/**
 * The call did not produce a Bot API reply: timeout, refused connection, proxy HTML page.
 * Whether Telegram executed the call is unknown, so only idempotent calls are retried.
 */
export class TelegramNetworkError extends TelegramError {
  override readonly name = 'TelegramNetworkError'
  readonly method: string
  readonly reason: NetworkFailure
  readonly transient: boolean
  /** HTTP status when the server answered something that was not a Bot API reply. */
  readonly httpStatus: number | undefined

  constructor(
    method: string,
    reason: NetworkFailure,
    message: string,
    options: { cause?: Error; httpStatus?: number; transient?: boolean } = {},
  ) {
    super(`Telegram ${method} failed (${reason}): ${message}`, { cause: options.cause })
    this.method = method
    this.reason = reason
    this.httpStatus = options.httpStatus
    // An abort requested by the caller is a decision, not a fault worth retrying.
    this.transient = options.transient ?? reason !== 'aborted'
  }

  toJSON() {
    return {
      name: this.name,
      method: this.method,
      reason: this.reason,
      httpStatus: this.httpStatus,
      transient: this.transient,
      message: this.message,
    }
  }
}

/** Telegram answered `{ ok: true }` but the result does not have the documented shape. */
export class TelegramResponseShapeError extends TelegramError {
  override readonly name = 'TelegramResponseShapeError'
  readonly method: string
  readonly transient = false
  readonly issues: readonly string[]

  constructor(method: string, issues: readonly string[]) {
    super(`Telegram ${method} returned an unexpected result: ${issues.join('; ')}`)
    this.method = method
    this.issues = issues
  }
}

/** An invoice that Telegram would reject for Stars, caught before sending. */
export class InvalidStarsInvoiceError extends Error {
  override readonly name = 'InvalidStarsInvoiceError'
  readonly field: string

  constructor(field: string, message: string) {
    super(`Invalid Stars invoice: ${field} ${message}`)
    this.field = field
  }
}

/** An update carries a payment key but not the documented payment shape. */
export class MalformedPaymentUpdateError extends Error {
  override readonly name = 'MalformedPaymentUpdateError'
  readonly kind:
    | 'pre_checkout_query'
    | 'successful_payment'
    | 'refunded_payment'
    | 'subscription'
    | 'purchased_paid_media'
  readonly updateId: number | undefined
  readonly issues: readonly string[]

  constructor(
    kind: MalformedPaymentUpdateError['kind'],
    updateId: number | undefined,
    issues: readonly string[],
  ) {
    super(`Malformed ${kind} update ${updateId ?? '(no update_id)'}: ${issues.join('; ')}`)
    this.kind = kind
    this.updateId = updateId
    this.issues = issues
  }
}

function isApiError(err: unknown): err is TelegramApiError {
  return err instanceof TelegramApiError
}

export function isTelegramError(err: unknown): err is TelegramError {
  return err instanceof TelegramError
}
export function isTransient(err: unknown): err is TelegramError {
  return err instanceof TelegramError && err.transient
}
export function isNetworkError(err: unknown): err is TelegramNetworkError {
  return err instanceof TelegramNetworkError
}
export function isTimeout(err: unknown): err is TelegramNetworkError {
  return err instanceof TelegramNetworkError && err.reason === 'timeout'
}
export function isChargeAlreadyRefunded(err: unknown): err is TelegramApiError {
  return isApiError(err) && err.code === 'CHARGE_ALREADY_REFUNDED'
}
export function isChargeNotFound(err: unknown): err is TelegramApiError {
  return isApiError(err) && err.code === 'CHARGE_NOT_FOUND'
}
export function isQueryTooOld(err: unknown): err is TelegramApiError {
  return isApiError(err) && err.code === 'QUERY_TOO_OLD'
}
export function isRateLimited(err: unknown): err is TelegramApiError {
  return isApiError(err) && err.code === 'TOO_MANY_REQUESTS'
}
export function isUnauthorized(err: unknown): err is TelegramApiError {
  return isApiError(err) && err.code === 'UNAUTHORIZED'
}
export function hasErrorCode(err: unknown, code: TelegramErrorCode): err is TelegramApiError {
  return isApiError(err) && err.code === code
}
