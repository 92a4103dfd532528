import type { RefundedPayment } from '@grammyjs/types'
import type { Invoice } from './billing.ts'
import {
  CHECKOUT_UNAVAILABLE_MESSAGE,
  type RecordedPayment,
  type RecordedRefund,
} from './payments.ts'

/** What the user reads; return null from a function to send nothing (and say it yourself). */
export interface EStarsMessages {
  /** Pre-checkout refused because e-Stars did not answer in time. */
  checkoutUnavailable: string
  paymentReceived: (payment: RecordedPayment) => string | null
  /** The payment could not be recorded yet (it will be, by reconciliation). */
  paymentPending: string
  /** Sent once per refunded charge per process (also when an operator's refund was recorded first). */
  refundReceived: (refund: RecordedRefund, update: RefundedPayment) => string | null
  subscribeButton: (invoice: Invoice) => string
  subscribeMessage: (invoice: Invoice) => string
}

/** 12000 → "12,000": e-Stars' one number format (what `@e-stars/billing/format` writes). */
const grouping = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const count = (n: number) => (n < 0 ? '\u2212' : '') + grouping.format(Math.abs(Math.trunc(n)))

export const DEFAULT_MESSAGES: EStarsMessages = {
  checkoutUnavailable: CHECKOUT_UNAVAILABLE_MESSAGE,
  paymentReceived: (p) => {
    if (p.duplicate) return null
    if (p.status === 'unmatched' || p.flag)
      return 'Payment received, thank you! We are checking it; what you bought will appear shortly.'
    const parts = [
      p.credits > 0 ? `+${count(p.credits)} credits` : null,
      p.entitlement
        ? `${p.entitlement.featureKey} ${p.entitlement.endsAt ? `until ${p.entitlement.endsAt.slice(0, 10)}` : 'for life'}`
        : null,
    ].filter(Boolean)
    return `Payment received, thank you! ${parts.join(', ')}. Balance: ${count(p.available)} credits.`
  },
  paymentPending:
    'Payment received, thank you! It will show on your balance in a few minutes (our records are catching up).',
  refundReceived: (r, update) => {
    const parts = [
      r.voided > 0 ? `${count(r.voided)} unused credits were removed` : null,
      r.repaidFromOtherLots > 0
        ? `${count(r.repaidFromOtherLots)} credits you had already used were taken from your balance`
        : null,
      r.debtAdded > 0
        ? `${count(r.debtAdded)} credits already used are owed from your next top-up`
        : null,
      r.entitlementsRevoked > 0 ? 'the access it bought has ended' : null,
    ].filter(Boolean)
    return `Your payment of ${update.total_amount} ⭐ was refunded.${parts.length ? ` ${parts.join('; ')}.` : ''}`
  },
  subscribeButton: (invoice) => `Subscribe for ${invoice.priceStars} ⭐ a month`,
  subscribeMessage: () => 'Tap the button to subscribe. You can cancel any time.',
}
