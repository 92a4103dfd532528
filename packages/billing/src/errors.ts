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
