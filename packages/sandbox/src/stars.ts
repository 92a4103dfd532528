import { randomBytes } from 'node:crypto'
import type { StarTransaction, TransactionPartnerUser, User } from './types.ts'

/** The one subscription period Telegram accepts: 30 days. */
export const SUBSCRIPTION_PERIOD_SECONDS = 2_592_000
export const SUBSCRIPTION_MAX_PRICE = 10_000

/** What a user agrees to pay: one XTR price, from sendInvoice or createInvoiceLink. */
export interface InvoiceTerms {
  title: string
  description: string
  payload: string
  currency: 'XTR'
  amount: number
  startParameter: string
  subscriptionPeriod: number | undefined
}

export interface Charge {
  id: string
  providerChargeId: string
  user: User
  terms: InvoiceTerms
  date: number
  refunded: boolean
  subscriptionId: string | undefined
  subscriptionExpirationDate: number | undefined
}

export interface Subscription {
  /** The charge id of the first payment; any charge id of the subscription finds it. */
  id: string
  user: User
  terms: InvoiceTerms
  expirationDate: number
  canceled: boolean
  chargeIds: string[]
}

/** A bot's Stars: charges, the Telegram-side ledger (getStarTransactions) and subscriptions. */
export class StarsAccount {
  readonly charges = new Map<string, Charge>()
  readonly subscriptions = new Map<string, Subscription>()
  /** Chronological, oldest first: that is the order getStarTransactions pages through. */
  readonly ledger: StarTransaction[] = []
  #providerSeq = 0

  get balance(): number {
    let sum = 0
    for (const row of this.ledger) sum += row.source ? row.amount : -row.amount
    return sum
  }

  recordCharge(input: {
    user: User
    terms: InvoiceTerms
    date: number
    subscription?: Subscription | undefined
  }): Charge {
    const charge: Charge = {
      id: `stxSANDBOX${randomBytes(18).toString('base64url')}`,
      providerChargeId: `${input.user.id}_${++this.#providerSeq}`,
      user: input.user,
      terms: input.terms,
      date: input.date,
      refunded: false,
      subscriptionId: input.subscription?.id,
      subscriptionExpirationDate: undefined,
    }
    this.charges.set(charge.id, charge)
    this.ledger.push({
      id: charge.id,
      amount: input.terms.amount,
      date: input.date,
      source: partnerOf(charge),
    })
    return charge
  }

  startSubscription(charge: Charge): Subscription {
    const period = charge.terms.subscriptionPeriod ?? SUBSCRIPTION_PERIOD_SECONDS
    const subscription: Subscription = {
      id: charge.id,
      user: charge.user,
      terms: charge.terms,
      expirationDate: charge.date + period,
      canceled: false,
      chargeIds: [charge.id],
    }
    charge.subscriptionId = subscription.id
    charge.subscriptionExpirationDate = subscription.expirationDate
    this.subscriptions.set(subscription.id, subscription)
    return subscription
  }

  subscriptionOfCharge(chargeId: string): Subscription | undefined {
    const id = this.charges.get(chargeId)?.subscriptionId
    return id === undefined ? undefined : this.subscriptions.get(id)
  }

  /** Appends the refund row (same id as the charge, partner under `receiver`). */
  recordRefund(charge: Charge, date: number): void {
    charge.refunded = true
    this.ledger.push({
      id: charge.id,
      amount: charge.terms.amount,
      date,
      receiver: partnerOf(charge),
    })
  }
}

function partnerOf(charge: Charge): TransactionPartnerUser {
  const partner: TransactionPartnerUser = {
    type: 'user',
    transaction_type: 'invoice_payment',
    user: charge.user,
    invoice_payload: charge.terms.payload,
  }
  if (charge.terms.subscriptionPeriod !== undefined) {
    partner.subscription_period = charge.terms.subscriptionPeriod
  }
  return partner
}
