import type { EStarsClient } from '@e-stars/client'
// A workspace source, bundled into each adapter like bot-core itself (bot-core does not list
// @e-stars/telegram as a dependency yet): the one zod parser of payment updates, shared with
// the server's relay.
import { parsePaymentUpdate } from '@e-stars/telegram'
import type { PreCheckoutQuery, RefundedPayment, SuccessfulPayment, User } from '@grammyjs/types'
import { Billing } from './billing.ts'
import { type BotChannel, tell } from './channel.ts'
import { CustomerCache } from './customers.ts'
import { consoleLogger, errorFields, type Logger } from './logger.ts'
import { DEFAULT_MESSAGES, type EStarsMessages } from './messages.ts'
import { decidePreCheckout, recordRefundedPayment, recordSuccessfulPayment } from './payments.ts'
import { recordStarsUpdate, type StarsUpdateEvent } from './stars-updates.ts'
import type { PaySupportOptions } from './support.ts'
import { DEFAULT_RECORD_RETRY, type RetryPolicy } from './transient.ts'

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

/** The payment event of an update, in @grammyjs/types' terms. */
export type PaymentEvent =
  | { kind: 'pre_checkout_query'; updateId: number; query: PreCheckoutQuery }
  | { kind: 'successful_payment'; updateId: number; payment: SuccessfulPayment; from: User }
  | { kind: 'refunded_payment'; updateId: number; refund: RefundedPayment; from: User }
  | StarsUpdateEvent

/** What the adapter does after the core saw an update. */
export type UpdateOutcome = 'answered' | 'next'

/** e-Stars for one bot, whatever its framework: each adapter calls these per update. */
export interface EStarsCore {
  readonly client: EStarsClient
  readonly logger: Logger
  /** The options of `/paysupport`, or false when the bot registers its own. */
  readonly paySupport: PaySupportOptions | false
  /** `ctx.billing` for this update. */
  billingFor(channel: BotChannel): Billing
  /**
   * Answers a pre-checkout query ('answered': the bot's handlers need not see it), or records a
   * payment or a refund and tells the user, setting `billing.payment` / `billing.refund` ('next').
   */
  handle(channel: BotChannel, billing: Billing): Promise<UpdateOutcome>
}

export function createEStarsCore(options: EStarsOptions): EStarsCore {
  const { client } = options
  const logger = options.logger ?? consoleLogger
  const messages = { ...DEFAULT_MESSAGES, ...options.messages }
  const retry = { ...DEFAULT_RECORD_RETRY, ...options.recordRetry }
  const precheckTimeoutMs = options.precheckTimeoutMs ?? 4000
  const customers = new CustomerCache(client, options.customerCacheSize)
  const refundsTold = new RecentSet(10_000)

  async function answerPreCheckout(channel: BotChannel, query: PreCheckoutQuery) {
    const answer = await decidePreCheckout(client, query, {
      timeoutMs: precheckTimeoutMs,
      unavailableMessage: messages.checkoutUnavailable,
      logger,
    })
    try {
      await channel.answerPreCheckoutQuery(answer.ok, answer.ok ? undefined : answer.errorMessage)
    } catch (error) {
      // Typically a redelivered query answered already ("query is too old"): nothing to do.
      logger.warn(
        { preCheckoutQueryId: query.id, err: errorFields(error) },
        'answering a pre-checkout query failed',
      )
    }
  }

  return {
    client,
    logger,
    paySupport: options.paySupport === false ? false : (options.paySupport ?? {}),
    billingFor(channel) {
      const from = channel.from
      return new Billing({
        client,
        customers,
        logger,
        channel,
        user: from && !from.is_bot ? from : undefined,
        chatId: channel.chatId,
        updateKey: `${channel.botId ?? 'bot'}:${channel.update.update_id}`,
        subscribeButtonText: messages.subscribeButton,
        subscribeMessageText: messages.subscribeMessage,
      })
    },
    async handle(channel, billing) {
      const event = paymentOf(channel.update, logger)
      if (!event) return 'next'
      switch (event.kind) {
        case 'pre_checkout_query':
          await answerPreCheckout(channel, event.query)
          return 'answered'
        case 'successful_payment': {
          const recording = await recordSuccessfulPayment(client, event, { retry, logger })
          billing.payment = recording
          const text = recording.recorded
            ? messages.paymentReceived(recording.outcome)
            : messages.paymentPending
          if (text) await tell(channel, text, logger)
          return 'next'
        }
        case 'refunded_payment': {
          const recording = await recordRefundedPayment(client, event, { retry, logger })
          billing.refund = recording
          if (recording.recorded && refundsTold.add(event.refund.telegram_payment_charge_id)) {
            const text = messages.refundReceived(recording.outcome, event.refund)
            if (text) await tell(channel, text, logger)
          }
          return 'next'
        }
        case 'subscription':
        case 'purchased_paid_media':
          billing.starsUpdate = await recordStarsUpdate(client, event, { retry, logger })
          return 'next'
      }
    },
  }
}

/**
 * The payment event of an update; a malformed one is logged loudly and left to reconciliation.
 * The zod parser checked the documented shape, which @grammyjs/types describes too (only the
 * loosely kept `order_info` differs), hence the one cast.
 */
export function paymentOf(update: unknown, logger: Logger): PaymentEvent | null {
  try {
    return parsePaymentUpdate(update) as PaymentEvent | null
  } catch (error) {
    logger.error(
      { update, err: errorFields(error), alert: 'MALFORMED_PAYMENT_UPDATE' },
      'a payment update does not have the documented shape; left for reconciliation',
    )
    return null
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
