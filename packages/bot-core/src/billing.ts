import type { EStarsClient, RouterInputs, RouterOutputs } from '@e-stars/client'
import type { BotChannel } from './channel.ts'
import type { CustomerCache, TelegramUserLike } from './customers.ts'
import { errorFields, type Logger } from './logger.ts'
import type { PaymentRecording, RecordedPayment, RecordedRefund } from './payments.ts'
import type { RecordedPaidMediaPurchase, RecordedSubscriptionUpdate } from './stars-updates.ts'

export type BalanceView = RouterOutputs['credits']['balance']
export type AccessAnswer = RouterOutputs['access']['check']
export type FeatureConsumption = RouterOutputs['usage']['consumeFeature']
export type FeatureReservation = RouterOutputs['usage']['reserveFeature']
export type FeatureSettlement = RouterOutputs['usage']['settleFeature']
/** A model call's usage record (issue 14): provider, model, tokens and optionally its own cost. */
export type UsageRecord = NonNullable<RouterInputs['usage']['settleFeature']['usage']>
export type EntitlementList = RouterOutputs['entitlements']['list']
export type Invoice = RouterOutputs['invoices']['create']

/** What `meter`'s work reports back: its result and the units it really used. */
export interface Metered<T> {
  result: T
  /** Units of the feature actually used (e.g. tokens); settled instead of the estimate. */
  quantity: number
  /** Facts for the ledger line, e.g. `{ tokens: 312, model: 'gpt-4o-mini' }`. */
  metadata?: Record<string, string | number | boolean | null>
  /** The model's own usage record: the settle's ledger entry carries its cost. */
  usage?: UsageRecord
}

export interface MeterOptions {
  /** Default: derived from the update, so a redelivered update is charged once. */
  idempotencyKey?: string
  ttlSeconds?: number
  /** The ledger line's reason, e.g. "AI answer". */
  reason?: string
  /**
   * The smallest estimate worth running the work for. Under the project's `cap` overage policy
   * an estimate the user cannot pay shrinks to what they can, down to this, and the work gets
   * `reservation.maxQuantity` to stay within (a model's `max_tokens`).
   */
  minEstimate?: number
  /** The expected usage, checked against the project's cost caps before anything is held. */
  usage?: UsageRecord
}

export interface MeterOutcome<T> {
  result: T
  reservation: FeatureReservation
  /** Null when settling failed after the work succeeded (logged; the hold expires by itself). */
  settlement: FeatureSettlement | null
}

export interface SentInvoice {
  invoice: Invoice
  /** The invoice message (packs, unlocks) or the message with the subscription link button. */
  message: { message_id: number; date: number }
}

export class NoUserError extends Error {
  override name = 'NoUserError'
  constructor() {
    super('This update has no user (ctx.from), so there is no customer to bill')
  }
}

interface BillingDeps {
  client: EStarsClient
  customers: CustomerCache
  logger: Logger
  /** Sends through the bot framework the update came from. */
  channel: BotChannel
  user: TelegramUserLike | undefined
  chatId: number | undefined
  /** Prefix of the idempotency keys derived from this update: `<bot id>:<update id>`. */
  updateKey: string
  subscribeButtonText: (invoice: Invoice) => string
  subscribeMessageText: (invoice: Invoice) => string
}

/**
 * `ctx.billing`: the customer of this update, with the calls a bot makes about them. Idempotency
 * keys default to ones derived from the update id, so an update Telegram delivers twice (or a
 * handler retried) charges once.
 */
export class Billing {
  /** Set on a `successful_payment` update: what recording it did. */
  payment: PaymentRecording<RecordedPayment> | null = null
  /** Set on a `refunded_payment` update. */
  refund: PaymentRecording<RecordedRefund> | null = null
  /** Set on a `subscription` or `purchased_paid_media` update (Bot API 10.2/10.3). */
  starsUpdate: PaymentRecording<RecordedSubscriptionUpdate | RecordedPaidMediaPurchase> | null =
    null
  #calls = 0

  constructor(private readonly deps: BillingDeps) {}

  /** The typed e-Stars client, for anything not wrapped here. */
  get client(): EStarsClient {
    return this.deps.client
  }

  /** The Telegram user billed in this update; throws NoUserError when the update has none. */
  get telegramUserId(): number {
    const user = this.deps.user
    if (!user) throw new NoUserError()
    return user.id
  }

  /** Makes sure the customer exists with the user's current profile (cached per process). */
  async ready(): Promise<number> {
    const user = this.deps.user
    if (!user) throw new NoUserError()
    await this.deps.customers.ensure(user)
    return user.id
  }

  /** Available, held and debt, with the lots in burn order and the open holds. */
  async balance(): Promise<BalanceView> {
    const telegramUserId = await this.ready()
    return this.deps.client.credits.balance.query({ telegramUserId })
  }

  /** May the user use `quantity` units of `feature` now, and at what cost? Changes nothing. */
  async check(feature: string, quantity = 1): Promise<AccessAnswer> {
    const telegramUserId = await this.ready()
    return this.deps.client.access.check.query({ telegramUserId, feature, quantity })
  }

  /**
   * Uses `quantity` units of `feature`: entitlement, quota and balance are enforced in one
   * transaction on the server. Throws (typed, see `billingErrorOf`) when refused.
   */
  async consume(
    feature: string,
    quantity: number,
    idempotencyKey = this.#nextKey(`consume:${feature}`),
  ): Promise<FeatureConsumption> {
    const telegramUserId = await this.ready()
    return this.deps.client.usage.consumeFeature.mutate({
      telegramUserId,
      feature,
      quantity,
      idempotencyKey,
    })
  }

  /**
   * Reserves `estimate` units, runs `work`, then settles the units it reports (more or less than
   * the estimate), or releases the reservation if `work` throws (and rethrows). A refusal to
   * reserve (no credits, quota) throws before `work` runs.
   */
  async meter<T>(
    feature: string,
    estimate: number,
    work: (reservation: FeatureReservation) => Promise<Metered<T>>,
    options: MeterOptions = {},
  ): Promise<MeterOutcome<T>> {
    const telegramUserId = await this.ready()
    const key = options.idempotencyKey ?? this.#nextKey(`meter:${feature}`)
    const reservation = await this.deps.client.usage.reserveFeature.mutate({
      telegramUserId,
      feature,
      quantity: estimate,
      idempotencyKey: `${key}:reserve`,
      ...(options.ttlSeconds ? { ttlSeconds: options.ttlSeconds } : {}),
      ...(options.reason ? { reason: options.reason } : {}),
      ...(options.minEstimate !== undefined ? { minQuantity: options.minEstimate } : {}),
      ...(options.usage ? { usage: options.usage } : {}),
    })
    let metered: Metered<T>
    try {
      metered = await work(reservation)
    } catch (error) {
      await this.deps.client.usage.releaseFeature
        .mutate({
          reservationId: reservation.reservationId,
          idempotencyKey: `${key}:release`,
          reason: 'the work failed',
        })
        .catch((releaseError: unknown) =>
          this.deps.logger.warn(
            {
              telegramUserId,
              reservationId: reservation.reservationId,
              err: errorFields(releaseError),
            },
            'releasing a reservation failed; it expires by itself',
          ),
        )
      throw error
    }
    try {
      const settlement = await this.deps.client.usage.settleFeature.mutate({
        reservationId: reservation.reservationId,
        quantity: metered.quantity,
        idempotencyKey: `${key}:settle`,
        ...(options.reason ? { reason: options.reason } : {}),
        ...(metered.metadata ? { metadata: metered.metadata } : {}),
        ...(metered.usage ? { usage: metered.usage } : {}),
      })
      // Never silent: the unpaid part is on the ledger (a shortfall entry) and in the log.
      if (settlement.overage)
        this.deps.logger.warn(
          {
            telegramUserId,
            reservationId: reservation.reservationId,
            policy: settlement.overage.policy,
            unpaidUnits: settlement.overage.units,
            unpaidCredits: settlement.overage.credits,
            debt: settlement.overage.debt,
            entryId: settlement.overage.entryId,
          },
          'the work cost more than was paid; the shortfall is on the ledger',
        )
      return { result: metered.result, reservation, settlement }
    } catch (error) {
      this.deps.logger.error(
        {
          telegramUserId,
          reservationId: reservation.reservationId,
          quantity: metered.quantity,
          err: errorFields(error),
        },
        'settling a reservation failed after the work succeeded',
      )
      return { result: metered.result, reservation, settlement: null }
    }
  }

  /**
   * Issues an order for `productKey` and sends it to the user: a Stars invoice for packs and
   * unlocks, a message with a "Subscribe" link button for subscriptions.
   */
  async sendInvoice(productKey: string): Promise<SentInvoice> {
    const user = this.deps.user
    const telegramUserId = await this.ready()
    const invoice = await this.deps.client.invoices.create.mutate({
      telegramUserId,
      productKey,
      username: user?.username ?? null,
      firstName: user?.first_name ?? null,
      lastName: user?.last_name ?? null,
      languageCode: user?.language_code ?? null,
    })
    const chatId = this.deps.chatId ?? telegramUserId
    if (invoice.sendInvoice) {
      const message = await this.deps.channel.sendInvoice({
        ...invoice.sendInvoice,
        chat_id: chatId,
      })
      return { invoice, message }
    }
    if (!invoice.invoiceLink) throw new Error(`Invoice ${invoice.orderId} has nothing to send`)
    const sent = await this.deps.channel.sendMessage(
      chatId,
      this.deps.subscribeMessageText(invoice),
      {
        inline_keyboard: [
          [{ text: this.deps.subscribeButtonText(invoice), url: invoice.invoiceLink }],
        ],
      },
    )
    return { invoice, message: sent }
  }

  /** The user's entitlements in force and the access they give, per feature. */
  async entitlements(): Promise<EntitlementList> {
    const telegramUserId = await this.ready()
    return this.deps.client.entitlements.list.query({ telegramUserId })
  }

  #nextKey(what: string) {
    this.#calls += 1
    return `tg:${this.deps.updateKey}:${what}:${this.#calls}`
  }
}
