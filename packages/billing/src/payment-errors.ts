import { BillingError } from './errors.ts'

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
