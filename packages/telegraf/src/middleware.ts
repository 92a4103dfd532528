import type { EStarsClient } from '@e-stars/client'
import { type PaymentUpdate, parsePaymentUpdate, type RefundedPayment } from '@e-stars/telegram'
import { Composer, type Context } from 'telegraf'
import { Billing, type Invoice } from './billing.ts'
import { CustomerCache } from './customers.ts'
import { consoleLogger, errorFields, type Logger } from './logger.ts'
import {
  CHECKOUT_UNAVAILABLE_MESSAGE,
  decidePreCheckout,
  type RecordedPayment,
  type RecordedRefund,
  recordRefundedPayment,
  recordSuccessfulPayment,
} from './payments.ts'
import { type PaySupportOptions, paySupportHandler } from './support.ts'
import { DEFAULT_RECORD_RETRY, type RetryPolicy } from './transient.ts'

/** A Telegraf context with `ctx.billing`: declare your bot as `new Telegraf<EStarsContext>(token)`. */
export interface EStarsContext extends Context {
  billing: Billing
}

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

export interface EStarsOptions {
  /** The typed client: `createEStarsClient({ url, apiKey })` from `@e-stars/client`. */
  client: EStarsClient
  /** pino or anything with info/warn/error(obj, msg); default: warnings and errors to stderr. */
  logger?: Logger
  /** How long to wait for `checkout.precheck` before refusing; Telegram allows 10 s in all. Default 4000. */
  precheckTimeoutMs?: number
  /** Retries of payment and refund recording on transient failures. Default 6 attempts, 250 ms doubling to 4 s. */
  recordRetry?: Partial<RetryPolicy>
  messages?: Partial<EStarsMessages>
  /** The `/paysupport` command Telegram requires of Stars sellers; `false` to register your own. */
  paySupport?: PaySupportOptions | false
  /** Users whose profile is remembered, so the customer upsert happens once per user. Default 10 000. */
  customerCacheSize?: number
}

const count = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ')

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

/**
 * e-Stars for an existing Telegraf bot: answers pre-checkout queries through `checkout.precheck`
 * (refusing politely if e-Stars is slow), records `successful_payment` and `refunded_payment`
 * exactly once, adds `ctx.billing` to every update, and handles `/paysupport`.
 *
 * `bot.use(eStars({ client }))` before your own handlers.
 */
export function eStars(options: EStarsOptions): Composer<EStarsContext> {
  const logger = options.logger ?? consoleLogger
  const messages = { ...DEFAULT_MESSAGES, ...options.messages }
  const retry = { ...DEFAULT_RECORD_RETRY, ...options.recordRetry }
  const precheckTimeoutMs = options.precheckTimeoutMs ?? 4000
  const customers = new CustomerCache(options.client, options.customerCacheSize)
  const refundsTold = new RecentSet(10_000)
  const composer = new Composer<EStarsContext>()

  composer.use(async (ctx, next) => {
    ctx.billing = new Billing({
      client: options.client,
      customers,
      logger,
      telegram: ctx.telegram,
      user: ctx.from && !ctx.from.is_bot ? ctx.from : undefined,
      chatId: ctx.chat?.id,
      updateKey: `${ctx.botInfo?.id ?? 'bot'}:${ctx.update.update_id}`,
      subscribeButtonText: messages.subscribeButton,
      subscribeMessageText: messages.subscribeMessage,
    })
    const payment = paymentOf(ctx.update, logger)
    if (!payment) return next()
    switch (payment.kind) {
      case 'pre_checkout_query': {
        const answer = await decidePreCheckout(options.client, payment.query, {
          timeoutMs: precheckTimeoutMs,
          unavailableMessage: messages.checkoutUnavailable,
          logger,
        })
        try {
          await ctx.answerPreCheckoutQuery(answer.ok, answer.ok ? undefined : answer.errorMessage)
        } catch (error) {
          // Typically a redelivered query answered already ("query is too old"): nothing to do.
          logger.warn(
            { preCheckoutQueryId: payment.query.id, err: errorFields(error) },
            'answering a pre-checkout query failed',
          )
        }
        return
      }
      case 'successful_payment': {
        const recording = await recordSuccessfulPayment(
          options.client,
          { payment: payment.payment, from: payment.from, updateId: payment.updateId },
          { retry, logger },
        )
        ctx.billing.payment = recording
        const text = recording.recorded
          ? messages.paymentReceived(recording.outcome)
          : messages.paymentPending
        if (text) await say(ctx, text, logger)
        return next()
      }
      case 'refunded_payment': {
        const recording = await recordRefundedPayment(
          options.client,
          { refund: payment.refund, from: payment.from, updateId: payment.updateId },
          { retry, logger },
        )
        ctx.billing.refund = recording
        const charge = payment.refund.telegram_payment_charge_id
        if (recording.recorded && refundsTold.add(charge)) {
          const text = messages.refundReceived(recording.outcome, payment.refund)
          if (text) await say(ctx, text, logger)
        }
        return next()
      }
    }
  })

  if (options.paySupport !== false)
    composer.command('paysupport', paySupportHandler(options.paySupport ?? {}, logger))
  return composer
}

/** The payment event of an update; a malformed one is logged loudly and left to reconciliation. */
function paymentOf(update: unknown, logger: Logger): PaymentUpdate | null {
  try {
    return parsePaymentUpdate(update)
  } catch (error) {
    logger.error(
      { update, err: errorFields(error), alert: 'MALFORMED_PAYMENT_UPDATE' },
      'a payment update does not have the documented shape; left for reconciliation',
    )
    return null
  }
}

async function say(ctx: Context, text: string, logger: Logger) {
  try {
    await ctx.reply(text)
  } catch (error) {
    logger.warn(
      { telegramUserId: ctx.from?.id, err: errorFields(error) },
      'could not tell the user',
    )
  }
}

/** The last `max` keys seen; `add` is false for a key already there (a redelivered update). */
class RecentSet {
  readonly #keys = new Set<string>()
  constructor(private readonly max: number) {}
  add(key: string): boolean {
    if (this.#keys.has(key)) return false
    this.#keys.add(key)
    if (this.#keys.size > this.max) {
      const oldest = this.#keys.values().next().value
      if (oldest !== undefined) this.#keys.delete(oldest)
    }
    return true
  }
}
