import { randomBytes, randomInt } from 'node:crypto'
import { type MessageContent, SandboxBot } from './bot.ts'
import type { VirtualClock } from './clock.ts'
import type { DeliveryOptions, WebhookReply } from './delivery.ts'
import { badRequest, QUERY_TOO_OLD, SandboxError } from './errors.ts'
import { foundEntities } from './formatting.ts'
import { type Charge, type InvoiceTerms, type Subscription, starAmountOf } from './stars.ts'
import type {
  AffiliateInfo,
  BotCapabilities,
  BotSubscriptionUpdated,
  CallbackAnswer,
  Message,
  PaidMediaPurchased,
  PreCheckoutQuery,
  StarTransaction,
  SubscriptionState,
  TransactionPartner,
  TransactionPartnerAffiliateProgram,
  User,
} from './types.ts'

export interface WorldOptions {
  clock: VirtualClock
  delivery: DeliveryOptions
  preCheckoutTimeoutMs: number
  emitRefundedPaymentOnBotRefund: boolean
  /** Runs a Bot API method a webhook answered with in its response body. */
  runWebhookReply: (bot: SandboxBot, reply: WebhookReply) => void
}

/** Who referred a payment through an affiliate program, and the commission they take. */
export interface Referral {
  affiliateUserId: number
  /** 1–999 per mille of the payment. */
  commissionPerMille: number
}

export interface CreateBotInput {
  /** `<bot id>:<secret>`; default: a new fake token such as `1000002:sandbox-…`. */
  token?: string
  username?: string
  firstName?: string
  /** What getMe reports beyond the bot's User (BotFather's settings); defaults as a new bot. */
  capabilities?: Partial<BotCapabilities>
}

/** A bot fresh from BotFather: joins groups, privacy mode on, nothing else switched on. */
export const DEFAULT_CAPABILITIES: BotCapabilities = {
  can_join_groups: true,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  supports_guest_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
  has_topics_enabled: false,
  allows_users_to_create_topics: false,
  can_manage_bots: false,
  supports_join_request_queries: false,
}

export interface CreateUserInput {
  id?: number
  firstName?: string
  lastName?: string
  username?: string
  languageCode?: string
}

export type PaymentResult =
  | {
      status: 'paid'
      chargeId: string
      /** The successful_payment service message now in the chat. */
      message: Message
      subscriptionExpirationDate?: number
    }
  | { status: 'rejected'; errorMessage: string }
  | { status: 'timeout' }

export type RenewalResult =
  | { status: 'renewed'; chargeId: string; expirationDate: number; message: Message }
  | { status: 'canceled'; subscriptionId: string }
  | { status: 'failed'; subscriptionId: string }

type PreCheckoutOutcome = { ok: true } | { ok: false; errorMessage: string } | 'timeout'

interface PreCheckoutState {
  readonly bot: SandboxBot
  readonly settle: (answer: PreCheckoutOutcome) => void
}

export interface StoredFile {
  data: Buffer
  contentType: string | undefined
}

const TOKEN_PATTERN = /^(\d{1,15}):[A-Za-z0-9_-]{1,100}$/

/**
 * The sandbox's state and every state-changing act, shared by the Bot API handlers (the bot's
 * side) and the control API (the user's and Telegram's side).
 */
export class World {
  readonly clock: VirtualClock
  readonly options: WorldOptions
  readonly bots = new Map<string, SandboxBot>()
  readonly users = new Map<number, User>()
  readonly files = new Map<string, StoredFile>()
  readonly invoiceLinks = new Map<string, { bot: SandboxBot; terms: InvoiceTerms }>()
  readonly #preCheckouts = new Map<string, PreCheckoutState>()
  #nextBotId = 1_000_001
  #nextUserId = 2_000_001

  constructor(options: WorldOptions) {
    this.clock = options.clock
    this.options = options
  }

  // ---- bots and users -------------------------------------------------------------------

  createBot(input: CreateBotInput = {}): SandboxBot {
    while ([...this.bots.values()].some((b) => b.user.id === this.#nextBotId)) this.#nextBotId++
    const token = input.token ?? `${this.#nextBotId}:sandbox-${randomBytes(6).toString('hex')}`
    const match = TOKEN_PATTERN.exec(token)
    if (!match?.[1]) throw new SandboxError('BAD_INPUT', 'token must look like <digits>:<secret>')
    if (this.bots.has(token)) throw new SandboxError('CONFLICT', 'a bot with this token exists')
    const id = Number(match[1])
    const bot = new SandboxBot({
      token,
      clock: this.clock,
      delivery: this.options.delivery,
      onWebhookReply: this.options.runWebhookReply,
      user: {
        id,
        is_bot: true,
        first_name: input.firstName ?? 'Sandbox Bot',
        username: input.username ?? `sandbox${id}_bot`,
      },
      capabilities: { ...DEFAULT_CAPABILITIES, ...input.capabilities },
    })
    this.bots.set(token, bot)
    return bot
  }

  createUser(input: CreateUserInput = {}): User {
    while (this.users.has(this.#nextUserId)) this.#nextUserId++
    const id = input.id ?? this.#nextUserId
    if (!Number.isSafeInteger(id) || id <= 0) throw new SandboxError('BAD_INPUT', 'bad user id')
    if (this.users.has(id)) throw new SandboxError('CONFLICT', `user ${id} exists`)
    const user: User = { id, is_bot: false, first_name: input.firstName ?? `User ${id}` }
    if (input.lastName !== undefined) user.last_name = input.lastName
    if (input.username !== undefined) user.username = input.username
    user.language_code = input.languageCode ?? 'en'
    this.users.set(id, user)
    return user
  }

  /** The bot with `token`, or the first bot created when `token` is omitted. */
  requireBot(token?: string): SandboxBot {
    const bot = token === undefined ? this.bots.values().next().value : this.bots.get(token)
    if (!bot) throw new SandboxError('NOT_FOUND', token ? 'no bot with this token' : 'no bot yet')
    return bot
  }

  requireUser(id: number): User {
    const user = this.users.get(id)
    if (!user) throw new SandboxError('NOT_FOUND', `no user ${id}`)
    return user
  }

  // ---- the user's side --------------------------------------------------------------------

  /**
   * The user sends `text`; its /commands, URLs, @mentions, #hashtags and e-mail addresses get
   * their entities, as Telegram finds them.
   */
  sendText(bot: SandboxBot, user: User, text: string): Message {
    if (!text) throw new SandboxError('BAD_INPUT', 'text is empty')
    const content: MessageContent = { text }
    const entities = foundEntities(text)
    if (entities.length > 0) content.entities = entities
    return this.#userMessage(bot, user, content)
  }

  #userMessage(bot: SandboxBot, user: User, content: MessageContent, date?: number): Message {
    const message = bot.addMessage(user, user, content, date)
    bot.updates.enqueue('message', message, user.id)
    return message
  }

  pressButton(
    bot: SandboxBot,
    user: User,
    input: { messageId: number; data?: string | undefined; text?: string | undefined },
  ): { callbackQueryId: string } {
    const message = bot.findMessage(user.id, input.messageId)
    if (!message || message.from?.id !== bot.user.id) {
      throw new SandboxError('NOT_FOUND', `no bot message ${input.messageId} in this chat`)
    }
    const buttons = message.reply_markup?.inline_keyboard?.flat() ?? []
    const button = buttons.find((b) =>
      input.data !== undefined ? b.callback_data === input.data : b.text === input.text,
    )
    if (!button || button.callback_data === undefined) {
      throw new SandboxError('NOT_FOUND', 'the message has no such callback button')
    }
    const id = `${randomInt(1e9, 9e9)}${randomInt(1e9, 9e9)}`
    bot.callbackQueries.set(id, {
      id,
      userId: user.id,
      answer: undefined,
    })
    bot.updates.enqueue(
      'callback_query',
      {
        id,
        from: user,
        message,
        chat_instance: `${bot.user.id}${user.id}`,
        data: button.callback_data,
      },
      user.id,
    )
    return { callbackQueryId: id }
  }

  answerCallbackQuery(bot: SandboxBot, id: string, answer: CallbackAnswer): void {
    const query = bot.callbackQueries.get(id)
    if (!query || query.answer) throw badRequest(QUERY_TOO_OLD)
    query.answer = answer
    bot.notify()
  }

  // ---- payments -----------------------------------------------------------------------------

  /** Resolves what `user` would pay: an invoice message of the chat or an invoice link. */
  resolveInvoice(
    input: { botToken?: string | undefined; userId: number } & (
      | { messageId: number; invoiceLink?: undefined }
      | { invoiceLink: string; messageId?: undefined }
    ),
  ): { bot: SandboxBot; terms: InvoiceTerms } {
    if (input.invoiceLink !== undefined) {
      const slug = /\$([A-Za-z0-9_-]+)$/.exec(input.invoiceLink)?.[1]
      const link = slug === undefined ? undefined : this.invoiceLinks.get(slug)
      if (!link) throw new SandboxError('NOT_FOUND', 'unknown invoice link')
      return link
    }
    const bot = this.requireBot(input.botToken)
    const terms = bot.invoiceTerms.get(`${input.userId}:${input.messageId}`)
    if (!terms) throw new SandboxError('NOT_FOUND', `message ${input.messageId} is no invoice`)
    return { bot, terms }
  }

  /**
   * Pays like a Telegram client: pre_checkout_query, wait for the bot's answer (deadline in
   * real time), then a successful_payment message and a ledger row.
   */
  async payInvoice(
    bot: SandboxBot,
    user: User,
    terms: InvoiceTerms,
    referral?: Referral,
  ): Promise<PaymentResult> {
    const affiliate = referral && this.affiliateOf(referral, terms.amount)
    const id = `${randomInt(1e9, 9e9)}${randomInt(1e8, 9e8)}`
    const answer = new Promise<PreCheckoutOutcome>((resolve) => {
      const state: PreCheckoutState = {
        bot,
        settle: (value) => {
          this.#preCheckouts.delete(id)
          clearTimeout(timer)
          resolve(value)
        },
      }
      const timer = setTimeout(() => state.settle('timeout'), this.options.preCheckoutTimeoutMs)
      this.#preCheckouts.set(id, state)
    })
    const query: PreCheckoutQuery = {
      id,
      from: user,
      currency: terms.currency,
      total_amount: terms.amount,
      invoice_payload: terms.payload,
    }
    bot.updates.enqueue('pre_checkout_query', query, user.id)
    const outcome = await answer
    if (outcome === 'timeout') return { status: 'timeout' }
    if (!outcome.ok) return { status: 'rejected', errorMessage: outcome.errorMessage }

    const charge = bot.stars.recordCharge({ user, terms, date: this.clock.unixTime(), affiliate })
    if (terms.subscriptionPeriod !== undefined) bot.stars.startSubscription(charge)
    const message = this.#paymentMessage(bot, charge, { first: true })
    const result: PaymentResult = { status: 'paid', chargeId: charge.id, message }
    if (charge.subscriptionExpirationDate !== undefined) {
      result.subscriptionExpirationDate = charge.subscriptionExpirationDate
    }
    return result
  }

  answerPreCheckoutQuery(
    bot: SandboxBot,
    id: string,
    ok: boolean,
    errorMessage: string | undefined,
  ): void {
    const query = this.#preCheckouts.get(id)
    // Answered, expired and unknown ids are all gone from the map: Telegram says "too old".
    if (!query || query.bot !== bot) throw badRequest(QUERY_TOO_OLD)
    if (!ok && !errorMessage) throw badRequest('ERROR_MESSAGE_EMPTY')
    query.settle(ok ? { ok: true } : { ok: false, errorMessage: errorMessage ?? '' })
  }

  /**
   * A charge the user paid before this sandbox ran (seeded history): the charge and its ledger
   * row, dated then. No update reaches the bot; whoever seeds records the payment themselves.
   */
  recordEarlierCharge(
    bot: SandboxBot,
    payer: CreateUserInput & { id: number },
    terms: InvoiceTerms,
    date: number,
  ): Charge {
    if (!Number.isSafeInteger(terms.amount) || terms.amount < 1)
      throw new SandboxError('BAD_INPUT', 'amount must be a whole number of Stars, at least 1')
    if (!Number.isSafeInteger(date) || date > this.clock.unixTime())
      throw new SandboxError('BAD_INPUT', 'an earlier charge is dated now or before')
    const user = this.users.get(payer.id) ?? this.createUser(payer)
    return bot.stars.recordCharge({ user, terms, date })
  }

  /**
   * The user buys a paid-media message (no pre-checkout: Telegram charges at once): a ledger
   * row with `paid_media_payment`, and `purchased_paid_media` when the payload is not empty.
   * Buying the same message twice is refused, as Telegram shows bought media as unlocked.
   */
  purchasePaidMedia(
    bot: SandboxBot,
    user: User,
    messageId: number,
    referral?: Referral,
  ): { chargeId: string; update: PaidMediaPurchased | undefined } {
    const messageKey = `${user.id}:${messageId}`
    const offer = bot.paidMediaOffers.get(messageKey)
    if (!offer) throw new SandboxError('NOT_FOUND', `message ${messageId} is no paid media`)
    for (const charge of bot.stars.charges.values()) {
      if (charge.paidMedia?.messageKey === messageKey && !charge.refunded)
        throw new SandboxError('CONFLICT', 'the user has already bought this paid media')
    }
    const charge = bot.stars.recordCharge({
      user,
      terms: {
        title: 'Paid media',
        description: 'Paid media',
        payload: offer.payload,
        currency: 'XTR',
        amount: offer.starCount,
        startParameter: '',
        subscriptionPeriod: undefined,
      },
      date: this.clock.unixTime(),
      paidMedia: { messageKey, media: structuredClone(offer.media) },
      affiliate: referral && this.affiliateOf(referral, offer.starCount),
    })
    if (offer.payload === '') return { chargeId: charge.id, update: undefined }
    const update: PaidMediaPurchased = { from: user, paid_media_payload: offer.payload }
    bot.updates.enqueue('purchased_paid_media', update, user.id)
    return { chargeId: charge.id, update }
  }

  /**
   * The commission an affiliate takes on a payment of `stars` it referred: `per_mille`/1000 of
   * it, exact to the nanostar (Stars × per_mille × 10^6 nanostars, always a whole number).
   */
  affiliateOf(referral: Referral, stars: number): AffiliateInfo {
    const perMille = referral.commissionPerMille
    if (!Number.isSafeInteger(perMille) || perMille < 1 || perMille > 999)
      throw new SandboxError('BAD_INPUT', 'commissionPerMille must be 1–999')
    const affiliate: AffiliateInfo = {
      affiliate_user: this.requireUser(referral.affiliateUserId),
      commission_per_mille: perMille,
      ...starAmountOf(stars * perMille * 1_000_000),
    }
    return affiliate
  }

  /**
   * Stars leave the bot's balance (a withdrawal, ads, API requests, a gift or Premium for a
   * user): refused when the balance is short, as Telegram answers BALANCE_TOO_LOW.
   */
  recordOutflow(bot: SandboxBot, receiver: TransactionPartner, nanostars: number): StarTransaction {
    if (!Number.isSafeInteger(nanostars) || nanostars <= 0)
      throw new SandboxError('BAD_INPUT', 'the amount must be positive')
    if (nanostars > bot.stars.balanceNanostars)
      throw new SandboxError('CONFLICT', 'BALANCE_TOO_LOW')
    return bot.stars.recordTransaction({
      ...starAmountOf(nanostars),
      date: this.clock.unixTime(),
      receiver,
    })
  }

  /** The bot earns a commission as an affiliate of another bot's program. */
  recordAffiliateEarning(
    bot: SandboxBot,
    source: TransactionPartnerAffiliateProgram,
    nanostars: number,
  ): StarTransaction {
    if (!Number.isSafeInteger(nanostars) || nanostars <= 0)
      throw new SandboxError('BAD_INPUT', 'the amount must be positive')
    return bot.stars.recordTransaction({
      ...starAmountOf(nanostars),
      date: this.clock.unixTime(),
      source,
    })
  }

  /** A new charge for the next period; refused when the user canceled the subscription. */
  renewSubscription(chargeId: string): RenewalResult {
    const { bot, charge: anyCharge } = this.findCharge(chargeId)
    const subscription = bot.stars.subscriptionOfCharge(anyCharge.id)
    if (!subscription) throw new SandboxError('BAD_INPUT', `${chargeId} is not a subscription`)
    if (subscription.canceled) return { status: 'canceled', subscriptionId: subscription.id }
    if (subscription.renewalFailed) return { status: 'failed', subscriptionId: subscription.id }
    const charge = bot.stars.recordCharge({
      user: subscription.user,
      terms: subscription.terms,
      date: this.clock.unixTime(),
      subscription,
    })
    subscription.expirationDate += subscription.terms.subscriptionPeriod ?? 0
    subscription.chargeIds.push(charge.id)
    charge.subscriptionExpirationDate = subscription.expirationDate
    bot.stars.changed()
    const message = this.#paymentMessage(bot, charge, { first: false })
    return {
      status: 'renewed',
      chargeId: charge.id,
      expirationDate: subscription.expirationDate,
      message,
    }
  }

  /**
   * The user changes their subscription in Telegram (Bot API 10.2): `canceled` stops renewal,
   * `active` re-enables it after a cancel, `failed` is a renewal payment that did not go
   * through (no charge; the subscription ends at its expiration date). The bot hears of it as
   * an `Update.subscription`, when its `allowed_updates` names `subscription`. Returns the
   * subscription and the update as made (even when `allowed_updates` filters it out).
   */
  changeSubscriptionState(
    chargeId: string,
    state: SubscriptionState,
  ): { subscription: Subscription; update: BotSubscriptionUpdated } {
    const { bot, charge } = this.findCharge(chargeId)
    const subscription = bot.stars.subscriptionOfCharge(charge.id)
    if (!subscription) throw new SandboxError('BAD_INPUT', `${chargeId} is not a subscription`)
    if (subscription.expirationDate <= this.clock.unixTime()) {
      throw new SandboxError('CONFLICT', 'the subscription has already ended')
    }
    if (state === 'canceled') {
      if (subscription.canceled) throw new SandboxError('CONFLICT', 'already canceled')
      subscription.canceled = true
    } else if (state === 'active') {
      if (!subscription.canceled) throw new SandboxError('CONFLICT', 'not canceled')
      subscription.canceled = false
    } else {
      if (subscription.canceled) throw new SandboxError('CONFLICT', 'canceled: nothing to renew')
      if (subscription.renewalFailed) throw new SandboxError('CONFLICT', 'renewal already failed')
      subscription.renewalFailed = true
    }
    bot.stars.changed()
    const update: BotSubscriptionUpdated = {
      user: subscription.user,
      invoice_payload: subscription.terms.payload,
      state,
    }
    bot.updates.enqueue('subscription', update, subscription.user.id)
    return { subscription, update }
  }

  /** The successful_payment message, dated with its charge (as Telegram does: one event). */
  #paymentMessage(bot: SandboxBot, charge: Charge, input: { first: boolean }): Message {
    return this.#userMessage(
      bot,
      charge.user,
      {
        successful_payment: {
          currency: charge.terms.currency,
          total_amount: charge.terms.amount,
          invoice_payload: charge.terms.payload,
          ...(charge.subscriptionExpirationDate === undefined
            ? {}
            : {
                subscription_expiration_date: charge.subscriptionExpirationDate,
                is_recurring: true,
                ...(input.first ? { is_first_recurring: true } : {}),
              }),
          telegram_payment_charge_id: charge.id,
          provider_payment_charge_id: charge.providerChargeId,
        },
      },
      charge.date,
    )
  }

  findCharge(chargeId: string): { bot: SandboxBot; charge: Charge } {
    for (const bot of this.bots.values()) {
      const charge = bot.stars.charges.get(chargeId)
      if (charge) return { bot, charge }
    }
    throw new SandboxError('NOT_FOUND', `no charge ${chargeId}`)
  }

  /**
   * Refunds a charge: a ledger row with the charge's id under `receiver`, and, when `notify`,
   * a refunded_payment message to the bot. A chargeback is a refund without the message.
   */
  refundCharge(bot: SandboxBot, charge: Charge, notify: boolean): Message | undefined {
    if (charge.refunded) throw new SandboxError('CONFLICT', 'CHARGE_ALREADY_REFUNDED')
    // One reading of the clock: the ledger row and the refunded_payment message agree.
    const date = this.clock.unixTime()
    bot.stars.recordRefund(charge, date)
    if (!notify) return undefined
    return this.#userMessage(
      bot,
      charge.user,
      {
        refunded_payment: {
          currency: charge.terms.currency,
          total_amount: charge.terms.amount,
          invoice_payload: charge.terms.payload,
          telegram_payment_charge_id: charge.id,
          provider_payment_charge_id: charge.providerChargeId,
        },
      },
      date,
    )
  }

  /** The bot's side of refundStarPayment / editUserStarSubscription: Telegram's checks. */
  chargeForBotCall(bot: SandboxBot, userId: number, chargeId: string): Charge {
    if (chargeId.trim() === '') throw badRequest('CHARGE_ID_EMPTY')
    if (!this.users.has(userId)) throw badRequest('USER_ID_INVALID')
    const charge = bot.stars.charges.get(chargeId)
    if (!charge || charge.user.id !== userId) throw badRequest('CHARGE_NOT_FOUND')
    return charge
  }

  subscriptionForBotCall(bot: SandboxBot, userId: number, chargeId: string): Subscription {
    const charge = this.chargeForBotCall(bot, userId, chargeId)
    const subscription = bot.stars.subscriptionOfCharge(charge.id)
    if (!subscription) throw badRequest('CHARGE_NOT_FOUND')
    return subscription
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  close(): void {
    for (const query of [...this.#preCheckouts.values()]) query.settle('timeout')
    for (const bot of this.bots.values()) bot.updates.close()
  }
}
