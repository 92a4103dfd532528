/** Every failure the engine reports on purpose. `code` is stable; the fields are the facts a caller needs. */
export abstract class BillingError extends Error {
  abstract readonly code: string
  override name = this.constructor.name
}

export class InsufficientCredits extends BillingError {
  readonly code = 'INSUFFICIENT_CREDITS'
  constructor(
    readonly available: number,
    readonly required: number,
  ) {
    super(`Insufficient credits: ${available} available, ${required} required`)
  }
}

export class IdempotencyConflict extends BillingError {
  readonly code = 'IDEMPOTENCY_CONFLICT'
  constructor(
    readonly idempotencyKey: string,
    readonly operation: string,
  ) {
    super(
      `Idempotency key "${idempotencyKey}" was already used for a different ${operation} request`,
    )
  }
}

export class NotFound extends BillingError {
  readonly code = 'NOT_FOUND'
  constructor(
    readonly entity: string,
    readonly id: string | number,
  ) {
    super(`${entity} ${id} not found`)
  }
}

export class HoldNotActive extends BillingError {
  readonly code = 'HOLD_NOT_ACTIVE'
  constructor(
    readonly holdId: string,
    readonly status: string,
  ) {
    super(`Hold ${holdId} is ${status}, not active`)
  }
}

export class CustomerBlocked extends BillingError {
  readonly code = 'CUSTOMER_BLOCKED'
  constructor(readonly telegramUserId: number) {
    super(`Customer ${telegramUserId} is blocked`)
  }
}

export class InvalidInput extends BillingError {
  readonly code = 'INVALID_INPUT'
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`)
  }
}

export class InvalidCredentials extends BillingError {
  readonly code = 'INVALID_CREDENTIALS'
  constructor() {
    super('Wrong email or password')
  }
}

export class TooManyLoginAttempts extends BillingError {
  readonly code = 'TOO_MANY_LOGIN_ATTEMPTS'
  constructor(
    /** ISO-8601 instant from which a new attempt is accepted. */
    readonly retryAt: string,
    readonly retryAfterSeconds: number,
  ) {
    super(`Too many failed logins: try again in ${retryAfterSeconds} s`)
  }
}

// Usage: quotas and entitlements.
/** A usage cap would be exceeded. PRECONDITION_FAILED: retry at `resetsAt`, or buy a bigger plan. */
export class QuotaExceeded extends BillingError {
  readonly code = 'QUOTA_EXCEEDED'
  constructor(
    readonly feature: string,
    readonly limit: number,
    readonly used: number,
    readonly requested: number,
    /** ISO-8601 instant the window resets (calendar) or usage starts leaving it (rolling). */
    readonly resetsAt: string | null,
    readonly period: string,
    readonly window: string,
  ) {
    super(
      `Quota exceeded for ${feature}: ${used} of ${limit} used this ${period}, ${requested} requested`,
    )
  }
}

/** A gated feature the customer holds no entitlement to now. */
export class NoEntitlement extends BillingError {
  readonly code = 'NO_ENTITLEMENT'
  constructor(readonly feature: string) {
    super(`No entitlement to ${feature}`)
  }
}

/**
 * Insufficient credits after the free allowance ran out: still `INSUFFICIENT_CREDITS`, with the
 * instant the free allowance comes back.
 */
export class InsufficientCreditsAfterAllowance extends InsufficientCredits {
  constructor(
    available: number,
    required: number,
    readonly freeAllowanceResetsAt: string | null,
  ) {
    super(available, required)
  }
}

// Payments and Telegram.
/** The product cannot be bought now (archived, or a lifetime unlock the customer already has). */
export class ProductUnavailable extends BillingError {
  readonly code = 'PRODUCT_UNAVAILABLE'
  constructor(
    readonly productKey: string,
    readonly why: 'archived' | 'already_owned',
  ) {
    super(
      why === 'archived'
        ? `Product ${productKey} is no longer on sale`
        : `The customer already owns ${productKey} for life`,
    )
  }
}

/** The project has no bot token, so e-Stars cannot call Telegram for it. */
export class BotTokenMissing extends BillingError {
  readonly code = 'BOT_TOKEN_MISSING'
  constructor(readonly projectId: string) {
    super('This project has no bot token: set it in the project settings first')
  }
}

/** Telegram refused or could not be reached; `transient` says whether a retry may succeed. */
export class TelegramCallFailed extends BillingError {
  readonly code = 'TELEGRAM_CALL_FAILED'
  constructor(
    readonly method: string,
    readonly description: string,
    readonly transient: boolean,
  ) {
    super(`Telegram ${method} failed: ${description}`)
  }
}

/** A product key already taken in this project. */
export class ProductKeyTaken extends BillingError {
  readonly code = 'PRODUCT_KEY_TAKEN'
  constructor(readonly productKey: string) {
    super(`A product with key ${productKey} already exists`)
  }
}

// Mini App sign-in.
export type InitDataRejection =
  /** No init data (opened outside Telegram). */
  | 'missing'
  /** Not init data: no hash, no valid auth_date, not a query string. */
  | 'malformed'
  /** The hash does not match: a field was changed, or it was signed for another bot. */
  | 'bad_signature'
  /** `auth_date` is older than the allowed age (an old init data replayed). */
  | 'expired'
  /** `auth_date` is in the future. */
  | 'from_future'
  /** Valid, but carries no `user` (e.g. opened from an inline query in a group). */
  | 'no_user'
  /**
   * What the API tells an unauthenticated caller for every reason above and for a project that
   * does not exist or has no bot token: one answer, so refusals reveal no project.
   */
  | 'refused'

const REJECTION_MESSAGES: Record<InitDataRejection, string> = {
  missing: 'No Telegram init data: open the Mini App from Telegram',
  malformed: 'The Telegram init data is malformed',
  bad_signature: "The Telegram init data's signature does not match this project's bot",
  expired: 'The Telegram init data is too old: reopen the Mini App',
  from_future: 'The Telegram init data is dated in the future',
  no_user: 'The Telegram init data names no user',
  refused: 'Sign-in refused',
}

/** Init data refused; `reason` says why (UNAUTHORIZED on the API). */
export class InitDataRejected extends BillingError {
  readonly code = 'INIT_DATA_REJECTED'
  constructor(
    readonly reason: InitDataRejection,
    readonly authDate: string | null = null,
    readonly maxAgeSeconds: number | null = null,
  ) {
    super(REJECTION_MESSAGES[reason])
  }
}

export type CustomerSessionRejection = 'malformed' | 'unknown' | 'expired'

/** A customer token that is not one, was never issued, was ended, or has expired. */
export class CustomerSessionInvalid extends BillingError {
  readonly code = 'CUSTOMER_SESSION_INVALID'
  constructor(readonly reason: CustomerSessionRejection) {
    super(
      reason === 'expired'
        ? 'The session expired: sign in again with the init data'
        : 'Unknown session: sign in with the Telegram init data',
    )
  }
}

/** `me.consume` on a feature the operator has not marked client-consumable. */
export class FeatureNotClientConsumable extends BillingError {
  readonly code = 'FEATURE_NOT_CLIENT_CONSUMABLE'
  constructor(readonly feature: string) {
    super(
      `Feature ${feature} is consumed by the bot's backend only; an operator can allow Mini App consumption`,
    )
  }
}

/** Concurrent acts kept colliding (deadlock or serialization failure) after every retry: try again. */
export class ConcurrentUpdate extends BillingError {
  readonly code = 'CONCURRENT_UPDATE'
  constructor(readonly attempts: number) {
    super(`Too many concurrent changes to the same records (${attempts} attempts): try again`)
  }
}

/** Every domain error the engine throws; the API maps each `code` to a transport code in one table. */
// Margin control.
/** A metered act names a model the price book does not price, and the project refuses those. */
export class UnpricedModel extends BillingError {
  readonly code = 'UNPRICED_MODEL'
  constructor(
    readonly provider: string,
    readonly model: string,
  ) {
    super(
      `No price for ${provider}/${model}: add it to the price book, or let the project record unpriced models`,
    )
  }
}

/** The customer's cost of goods this day or month would pass a cost cap. Retry at `resetsAt`. */
export class CostCapReached extends BillingError {
  readonly code = 'COST_CAP_REACHED'
  constructor(
    readonly capId: string,
    readonly scope: string,
    readonly period: string,
    readonly capMicros: number,
    readonly spentMicros: number,
    readonly requestedMicros: number,
    /** ISO-8601 instant the period ends in the project's time zone. */
    readonly resetsAt: string,
  ) {
    super(
      `Cost cap reached: ${spentMicros} of ${capMicros} micro-USD spent this ${period}, ${requestedMicros} more requested`,
    )
  }
}

/** A reservation's expected cost would leave less margin than the feature's floor, even at the smallest output. */
export class MarginFloorBreached extends BillingError {
  readonly code = 'MARGIN_FLOOR_BREACHED'
  constructor(
    readonly feature: string,
    readonly floorPercent: number,
    readonly expectedCostMicros: number,
    readonly heldValueMicros: number,
  ) {
    super(
      `Margin floor of ${floorPercent}% for ${feature}: expected cost ${expectedCostMicros} micro-USD exceeds what the held credits allow`,
    )
  }
}

export type AnyBillingError =
  | InsufficientCredits
  | IdempotencyConflict
  | NotFound
  | HoldNotActive
  | CustomerBlocked
  | InvalidInput
  | InvalidCredentials
  | TooManyLoginAttempts
  | QuotaExceeded
  | NoEntitlement
  | ProductUnavailable
  | BotTokenMissing
  | TelegramCallFailed
  | ProductKeyTaken
  | InitDataRejected
  | CustomerSessionInvalid
  | FeatureNotClientConsumable
  | ConcurrentUpdate
  | UnpricedModel
  | CostCapReached
  | MarginFloorBreached

export type BillingErrorCode = AnyBillingError['code']
