import { BillingError, InsufficientCredits } from './errors.ts'

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
