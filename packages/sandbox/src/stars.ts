import { randomBytes } from 'node:crypto'
import { SandboxError } from './errors.ts'
import type {
  AffiliateInfo,
  PaidMedia,
  RevenueWithdrawalState,
  StarAmount,
  StarTransaction,
  TransactionPartnerUser,
  User,
} from './types.ts'

/** Telegram's price range for paid media (Bot API 9.3): 1–25,000 Stars. */
export const PAID_MEDIA_MIN_STARS = 1
export const PAID_MEDIA_MAX_STARS = 25_000

/** 1 Star = 10^9 nanostars (StarAmount.nanostar_amount, StarTransaction.nanostar_amount). */
export const NANOSTARS_PER_STAR = 1_000_000_000

/** Whole Stars and the nanostar remainder, both with the sign of `nanostars` (Telegram's StarAmount). */
export function starAmountOf(nanostars: number): StarAmount {
  const amount = Math.trunc(nanostars / NANOSTARS_PER_STAR)
  const nano = nanostars - amount * NANOSTARS_PER_STAR
  return nano === 0 ? { amount } : { amount, nanostar_amount: nano }
}

const nanostarsOf = (a: { amount: number; nanostar_amount?: number | undefined }): number =>
  a.amount * NANOSTARS_PER_STAR + (a.nanostar_amount ?? 0)

/**
 * What a ledger row does to the bot's balance, in nanostars: `source` rows add, `receiver`
 * rows take away, a failed withdrawal gives the Stars back (counts 0), and an affiliate's
 * commission on a user's payment is not the bot's (the row's amount is the gross; its refund
 * row carries the commission negated).
 */
export function netNanostarsOf(row: StarTransaction): number {
  const partner = row.source ?? row.receiver
  if (partner?.type === 'fragment' && partner.withdrawal_state?.type === 'failed') return 0
  const gross = (row.source ? 1 : -1) * nanostarsOf(row)
  const commission =
    partner?.type === 'user' && partner.affiliate ? nanostarsOf(partner.affiliate) : 0
  return gross - commission
}

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
  /** A paid-media purchase (no invoice): which message, what it unlocked. */
  paidMedia?: { messageKey: string; media: PaidMedia[] } | undefined
  /** The affiliate who referred the payer and the commission they took. */
  affiliate?: AffiliateInfo | undefined
}

export interface Subscription {
  /** The charge id of the first payment; any charge id of the subscription finds it. */
  id: string
  user: User
  terms: InvoiceTerms
  expirationDate: number
  canceled: boolean
  /**
   * The last renewal payment failed: the subscription ends at `expirationDate` and is not
   * renewed. (Journals written before Bot API 10.2 support lack it: read as false.)
   */
  renewalFailed?: boolean
  chargeIds: string[]
}

/** A bot's Stars: charges, the Telegram-side ledger (getStarTransactions) and subscriptions. */
export class StarsAccount {
  readonly charges = new Map<string, Charge>()
  readonly subscriptions = new Map<string, Subscription>()
  /** Chronological, oldest first: that is the order getStarTransactions pages through. */
  readonly ledger: StarTransaction[] = []
  /** Called after every change (the journal writes it down before the bot hears of it). */
  onChange: (() => void) | undefined
  #providerSeq = 0

  /** The balance in nanostars (charges − refunds − commissions − outflows + earnings). */
  get balanceNanostars(): number {
    let sum = 0
    for (const row of this.ledger) sum += netNanostarsOf(row)
    return sum
  }

  /** Whole Stars of the balance (rounded toward 0). */
  get balance(): number {
    return starAmountOf(this.balanceNanostars).amount
  }

  /** getMyStarBalance: whole Stars and the nanostar remainder. */
  starAmount(): StarAmount {
    return starAmountOf(this.balanceNanostars)
  }

  /**
   * A transaction that is no user's charge (a withdrawal, ad or API spend, a gift bought, an
   * affiliate commission earned): one ledger row with a fresh id.
   */
  recordTransaction(row: Omit<StarTransaction, 'id'>): StarTransaction {
    const full: StarTransaction = {
      id: `stxSANDBOX${randomBytes(18).toString('base64url')}`,
      ...row,
    }
    this.#append(full)
    return full
  }

  /** A Fragment withdrawal ends: succeeded (with its date and URL) or failed (Stars return). */
  settleWithdrawal(id: string, state: RevenueWithdrawalState): StarTransaction {
    const row = this.ledger.find((r) => r.id === id && r.receiver?.type === 'fragment')
    if (!row || row.receiver?.type !== 'fragment')
      throw new SandboxError('NOT_FOUND', `no withdrawal ${id}`)
    if (row.receiver.withdrawal_state?.type !== 'pending')
      throw new SandboxError('CONFLICT', 'the withdrawal is no longer pending')
    row.receiver.withdrawal_state = state
    this.changed()
    return row
  }

  recordCharge(input: {
    user: User
    terms: InvoiceTerms
    date: number
    subscription?: Subscription | undefined
    paidMedia?: Charge['paidMedia']
    affiliate?: AffiliateInfo | undefined
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
    if (input.paidMedia) charge.paidMedia = input.paidMedia
    if (input.affiliate) charge.affiliate = input.affiliate
    this.charges.set(charge.id, charge)
    this.#append({
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
      renewalFailed: false,
      chargeIds: [charge.id],
    }
    charge.subscriptionId = subscription.id
    charge.subscriptionExpirationDate = subscription.expirationDate
    this.subscriptions.set(subscription.id, subscription)
    this.changed()
    return subscription
  }

  subscriptionOfCharge(chargeId: string): Subscription | undefined {
    const id = this.charges.get(chargeId)?.subscriptionId
    return id === undefined ? undefined : this.subscriptions.get(id)
  }

  /** Appends the refund row (same id as the charge, partner under `receiver`). */
  recordRefund(charge: Charge, date: number): void {
    charge.refunded = true
    const receiver = partnerOf(charge)
    if (receiver.affiliate) {
      // The affiliate's commission is taken back too: negated on the refund row.
      const back = -nanostarsOf(receiver.affiliate)
      const { amount, nanostar_amount } = starAmountOf(back)
      receiver.affiliate = { ...receiver.affiliate, amount }
      if (nanostar_amount === undefined) delete receiver.affiliate.nanostar_amount
      else receiver.affiliate.nanostar_amount = nanostar_amount
    }
    this.#append({ id: charge.id, amount: charge.terms.amount, date, receiver })
  }

  /** A change made from outside (a subscription canceled or resumed by the bot). */
  changed(): void {
    this.onChange?.()
  }

  /** What the journal keeps: everything getStarTransactions and the Bot API calls answer from. */
  state(): StarsState {
    return {
      charges: [...this.charges.values()],
      subscriptions: [...this.subscriptions.values()],
      ledger: this.ledger,
      providerSeq: this.#providerSeq,
    }
  }

  /** Takes back the state a journal kept (on an account with no history of its own yet). */
  restore(state: StarsState): void {
    for (const charge of state.charges) this.charges.set(charge.id, charge)
    for (const subscription of state.subscriptions)
      this.subscriptions.set(subscription.id, subscription)
    this.ledger.push(...state.ledger)
    this.#providerSeq = state.providerSeq
  }

  /** Keeps the ledger chronological: a charge dated earlier (seeded history) goes before later rows. */
  #append(row: StarTransaction): void {
    let at = this.ledger.length
    while (at > 0 && this.ledger[at - 1]!.date > row.date) at--
    this.ledger.splice(at, 0, row)
    this.changed()
  }
}

export interface StarsState {
  charges: Charge[]
  subscriptions: Subscription[]
  ledger: StarTransaction[]
  providerSeq: number
}

function partnerOf(charge: Charge): TransactionPartnerUser {
  if (charge.paidMedia) {
    const partner: TransactionPartnerUser = {
      type: 'user',
      transaction_type: 'paid_media_payment',
      user: charge.user,
      paid_media: charge.paidMedia.media,
    }
    if (charge.affiliate) partner.affiliate = { ...charge.affiliate }
    if (charge.terms.payload !== '') partner.paid_media_payload = charge.terms.payload
    return partner
  }
  const partner: TransactionPartnerUser = {
    type: 'user',
    transaction_type: 'invoice_payment',
    user: charge.user,
    invoice_payload: charge.terms.payload,
  }
  if (charge.affiliate) partner.affiliate = { ...charge.affiliate }
  if (charge.terms.subscriptionPeriod !== undefined) {
    partner.subscription_period = charge.terms.subscriptionPeriod
  }
  return partner
}
