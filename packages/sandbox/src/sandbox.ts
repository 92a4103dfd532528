import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { SandboxBot } from './bot.ts'
import { callBotApi } from './bot-api.ts'
import { VirtualClock } from './clock.ts'
import {
  type ControlAccess,
  controlHeaders,
  newControlToken,
  ownOrigins,
} from './control-access.ts'
import { handleControlRequest } from './control-http.ts'
import type { WebhookAttempt } from './delivery.ts'
import { BotApiError, SandboxError } from './errors.ts'
import { readBotApiParams } from './params.ts'
import { sendJson } from './respond.ts'
import { NANOSTARS_PER_STAR, type Subscription } from './stars.ts'
import { keepStarsJournal } from './stars-journal.ts'
import type {
  BotSubscriptionUpdated,
  CallbackAnswer,
  Message,
  PaidMediaPurchased,
  StarAmount,
  StarTransaction,
  SubscriptionState,
  TransactionPartnerAffiliateProgram,
  TransactionPartnerUser,
  Update,
  User,
} from './types.ts'
import {
  type CreateBotInput,
  type CreateUserInput,
  type PaymentResult,
  type Referral,
  type RenewalResult,
  type StoredFile,
  World,
} from './world.ts'

/** The demo bot: its token is fake on purpose and only means something to the sandbox. */
export const DEMO_BOT = {
  token: '1000001:sandbox',
  username: 'estars_demo_bot',
  firstName: 'e-Stars Demo',
} as const satisfies CreateBotInput

export interface SandboxOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number
  /** Interface to bind; default 127.0.0.1 (loopback only). */
  host?: string
  /** Bots to create at start; default `[DEMO_BOT]`. Pass `[]` for none. */
  bots?: CreateBotInput[]
  /** Users to create at start; default none. */
  users?: CreateUserInput[]
  /** How long a pre_checkout_query waits for answerPreCheckoutQuery; default 10000 ms. */
  preCheckoutTimeoutMs?: number
  /** First webhook retry delay, doubled per failure; default 1000 ms. */
  webhookRetryBaseDelayMs?: number
  /** Cap of the webhook retry delay; default 60000 ms. */
  webhookRetryMaxDelayMs?: number
  /** Time a webhook POST may take; default 10000 ms. */
  webhookTimeoutMs?: number
  /** Emit a refunded_payment update when the bot itself calls refundStarPayment; default true. */
  emitRefundedPaymentOnBotRefund?: boolean
  /** Virtual clock start (unix ms) and whether it stands still between `advance()` calls. */
  clock?: { startMs?: number; frozen?: boolean }
  /**
   * The token the HTTP control API (`/sandbox/…`) requires, as `authorization: Bearer <token>`;
   * default: random for each run. The Bot API routes (`/bot<token>/…`) need only the bot's token.
   */
  controlToken?: string
  /** Browser origins besides the sandbox's own that may call the control API (e.g. the console's). */
  allowedOrigins?: string[]
  /**
   * A file (e.g. in the demo's DATA_DIR) where the bots' Stars ledgers are kept, so a restart
   * remembers every charge, refund and subscription, as Telegram would; default: memory only.
   */
  starsJournal?: string
  /** Extra HTTP handlers (e.g. a later Mini App host page), tried for paths outside /bot… and /sandbox/…. */
  extensions?: SandboxExtension[]
}

/**
 * The extension point for features served next to the Bot API (a Mini App host page with a
 * Telegram.WebApp stand-in is the first planned one). An extension answers the requests it
 * owns and returns true, or returns false to let the next one (or the 404) have it.
 */
export interface SandboxExtension {
  readonly name: string
  handle(req: IncomingMessage, res: ServerResponse, sandbox: Sandbox): boolean | Promise<boolean>
}

export interface ControlCall {
  /** Default: POST when there is a body, GET otherwise. */
  method?: 'GET' | 'POST'
  body?: unknown
  headers?: Record<string, string>
}

export interface BotInfo {
  token: string
  user: User
}

/** Which bot a control call is about; omitted means the first bot created. */
export interface BotSelector {
  botToken?: string | undefined
}

export interface WaitForMessageOptions extends BotSelector {
  /** Only messages with a larger message_id count (e.g. the id of the message you just sent). */
  afterMessageId?: number | undefined
}

export type InvoiceRef =
  | ({ messageId: number; invoiceLink?: undefined } & BotSelector)
  | { invoiceLink: string; messageId?: undefined; botToken?: undefined }

export interface InvoiceLinkInfo {
  bot: User
  title: string
  description: string
  currency: 'XTR'
  amount: number
  /** Seconds per period for a subscription link; null for a one-time invoice. */
  subscriptionPeriod: number | null
}

export interface SubscriptionInfo {
  id: string
  userId: number
  expirationDate: number
  canceled: boolean
  /** The last renewal payment failed (`failSubscriptionRenewal`): it ends at expirationDate. */
  renewalFailed: boolean
  /** What Telegram would call it: canceled, failed, or active. */
  state: SubscriptionState
  chargeIds: string[]
}

/** What a user's subscription change did: the subscription now, and the update the bot gets. */
export interface SubscriptionChange {
  subscription: SubscriptionInfo
  update: BotSubscriptionUpdated
}

const BOT_API_PATH = /^\/bot([^/]+)\/(?:test\/)?([A-Za-z]+)\/?$/

/**
 * A running sandbox: a Bot API server for bots and a control surface for tests, which act
 * as users and as Telegram. Every control method also exists over HTTP under `/sandbox/`.
 */
export class Sandbox {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  readonly url: string
  /** Bot API root for clients: `new Telegraf(token, { telegram: { apiRoot } })`. */
  readonly apiRoot: string
  readonly clock: VirtualClock
  /** This run's control-API token (what `authorization: Bearer …` must carry). */
  readonly controlToken: string
  readonly #world: World
  readonly #server: Server
  readonly #access: ControlAccess
  #closing: Promise<void> | undefined

  /** Use createSandbox(). */
  constructor(world: World, server: Server, url: string, access: ControlAccess) {
    this.#world = world
    this.#server = server
    this.#access = access
    this.clock = world.clock
    this.url = url
    this.apiRoot = url
    this.controlToken = access.token
  }

  /** The headers a control call over HTTP needs (the token). */
  controlHeaders(): Record<string, string> {
    return controlHeaders(this.controlToken)
  }

  /**
   * Calls the HTTP control API as another process would, with this run's token:
   * `sandbox.fetchControl('messages', { body: { userId, text: '/start' } })`.
   */
  fetchControl(path: string, call: ControlCall = {}): Promise<Response> {
    const body = call.body === undefined ? {} : { body: JSON.stringify(call.body) }
    return fetch(`${this.url}/sandbox/${path.replace(/^\/?(sandbox\/)?/, '')}`, {
      method: call.method ?? (call.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(call.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...this.controlHeaders(),
        ...call.headers,
      },
      ...body,
    })
  }

  // ---- bots and users ---------------------------------------------------------------------

  createBot(input: CreateBotInput = {}): BotInfo {
    return infoOf(this.#world.createBot(input))
  }

  /** The bot with `token`, or the first bot (the demo bot by default). */
  bot(token?: string): BotInfo {
    return infoOf(this.#world.requireBot(token))
  }

  bots(): BotInfo[] {
    return [...this.#world.bots.values()].map(infoOf)
  }

  createUser(input: CreateUserInput = {}): User {
    return { ...this.#world.createUser(input) }
  }

  users(): User[] {
    return [...this.#world.users.values()].map((u) => ({ ...u }))
  }

  // ---- acting as a user ---------------------------------------------------------------------

  /** The user sends a text; `/command …` gets a bot_command entity. Returns the user's message. */
  sendText(userId: number, text: string, options: BotSelector = {}): Message {
    const { bot, user } = this.#chat(userId, options)
    return structuredClone(this.#world.sendText(bot, user, text))
  }

  /** Presses an inline button of a bot message, found by callback_data or by its text. */
  pressButton(
    userId: number,
    messageId: number,
    button: { data: string } | { text: string },
    options: BotSelector = {},
  ): { callbackQueryId: string } {
    const { bot, user } = this.#chat(userId, options)
    return this.#world.pressButton(bot, user, {
      messageId,
      data: 'data' in button ? button.data : undefined,
      text: 'text' in button ? button.text : undefined,
    })
  }

  /** Resolves with the bot's answerCallbackQuery for a press. */
  waitForCallbackAnswer(
    callbackQueryId: string,
    timeoutMs = 5000,
    options: BotSelector = {},
  ): Promise<CallbackAnswer> {
    const bot = this.#world.requireBot(options.botToken)
    return waitUntil(
      bot,
      timeoutMs,
      `an answer to callback query ${callbackQueryId}`,
      () => bot.callbackQueries.get(callbackQueryId)?.answer,
    )
  }

  /** Every message of the private chat between the user and the bot, oldest first. */
  transcript(userId: number, options: BotSelector = {}): Message[] {
    const { bot, user } = this.#chat(userId, options)
    return bot.transcript(user.id)
  }

  /**
   * Resolves with the first message from the bot to this user that matches `predicate`
   * (already present or arriving, edits included); rejects after `timeoutMs`.
   */
  waitForMessage(
    userId: number,
    predicate: (message: Message) => boolean = () => true,
    timeoutMs = 5000,
    options: WaitForMessageOptions = {},
  ): Promise<Message> {
    const { bot, user } = this.#chat(userId, options)
    const after = options.afterMessageId ?? 0
    return waitUntil(bot, timeoutMs, `a bot message to user ${userId}`, () =>
      bot
        .transcript(user.id)
        .find((m) => m.from?.id === bot.user.id && m.message_id > after && predicate(m)),
    )
  }

  /**
   * Pays an invoice message or an invoice link like a Telegram client: sends the
   * pre_checkout_query, waits for the bot's answer, then sends successful_payment and records
   * the charge. Paying the same invoice again makes a new charge.
   */
  payInvoice(
    userId: number,
    invoice: InvoiceRef,
    options: { affiliate?: Referral | undefined } = {},
  ): Promise<PaymentResult> {
    const user = this.#world.requireUser(userId)
    const { bot, terms } = this.#world.resolveInvoice({ ...invoice, userId })
    return this.#world.payInvoice(bot, user, terms, options.affiliate)
  }

  /**
   * The user buys a paid-media message the bot sent (sendPaidMedia): the Stars are charged at
   * once, the ledger gets a `paid_media_payment` row and, when the message has a payload, the
   * bot gets `purchased_paid_media`. Returns the transaction id and the update.
   */
  buyPaidMedia(
    userId: number,
    messageId: number,
    options: BotSelector & { affiliate?: Referral | undefined } = {},
  ): { chargeId: string; update: PaidMediaPurchased | null } {
    const { bot, user } = this.#chat(userId, options)
    const { chargeId, update } = this.#world.purchasePaidMedia(
      bot,
      user,
      messageId,
      options.affiliate,
    )
    return { chargeId, update: update === undefined ? null : structuredClone(update) }
  }

  /** What a Telegram client shows before paying an invoice link (made by createInvoiceLink). */
  invoiceOfLink(invoiceLink: string): InvoiceLinkInfo {
    const { bot, terms } = this.#world.resolveInvoice({ invoiceLink, userId: 0 })
    return {
      bot: { ...bot.user },
      title: terms.title,
      description: terms.description,
      currency: terms.currency,
      amount: terms.amount,
      subscriptionPeriod: terms.subscriptionPeriod ?? null,
    }
  }

  // ---- acting as Telegram -------------------------------------------------------------------

  /**
   * A charge paid before this sandbox ran (a demo's seeded history), dated `date` (unix
   * seconds, not later than now): Telegram's ledger has it, the bot gets no update.
   */
  recordEarlierCharge(
    input: {
      user: CreateUserInput & { id: number }
      title: string
      payload: string
      amount: number
      date: number
    },
    options: BotSelector = {},
  ): { chargeId: string } {
    const charge = this.#world.recordEarlierCharge(
      this.#world.requireBot(options.botToken),
      input.user,
      {
        title: input.title,
        description: input.title,
        payload: input.payload,
        currency: 'XTR',
        amount: input.amount,
        startParameter: '',
        subscriptionPeriod: undefined,
      },
      input.date,
    )
    return { chargeId: charge.id }
  }

  /** Charges the next period of the subscription `chargeId` belongs to (any of its charges). */
  renewSubscription(chargeId: string): RenewalResult {
    return this.#world.renewSubscription(chargeId)
  }

  subscription(chargeId: string): SubscriptionInfo {
    const { bot, charge } = this.#world.findCharge(chargeId)
    const s = bot.stars.subscriptionOfCharge(charge.id)
    if (!s) throw new SandboxError('NOT_FOUND', `${chargeId} is not a subscription charge`)
    return subscriptionInfo(s)
  }

  /** The user cancels the subscription in Telegram: no more renewals; `Update.subscription` canceled. */
  cancelSubscription(chargeId: string): SubscriptionChange {
    return this.#subscriptionChange(chargeId, 'canceled')
  }

  /** The user re-enables a canceled subscription: renewals resume; `Update.subscription` active. */
  reenableSubscription(chargeId: string): SubscriptionChange {
    return this.#subscriptionChange(chargeId, 'active')
  }

  /**
   * The next renewal payment fails (the user's balance was short): no charge, no renewal, the
   * subscription ends at its expiration date; `Update.subscription` failed.
   */
  failSubscriptionRenewal(chargeId: string): SubscriptionChange {
    return this.#subscriptionChange(chargeId, 'failed')
  }

  #subscriptionChange(chargeId: string, state: SubscriptionState): SubscriptionChange {
    const { subscription, update } = this.#world.changeSubscriptionState(chargeId, state)
    return { subscription: subscriptionInfo(subscription), update: structuredClone(update) }
  }

  /** Telegram refunds a charge: ledger refund row and a refunded_payment message to the bot. */
  refundPayment(chargeId: string): Message {
    const { bot, charge } = this.#world.findCharge(chargeId)
    const message = this.#world.refundCharge(bot, charge, true)
    if (!message) throw new Error('unreachable: a notified refund has a message')
    return structuredClone(message)
  }

  /** A chargeback: the ledger gets the refund row, the bot gets no update. */
  chargeback(chargeId: string): void {
    const { bot, charge } = this.#world.findCharge(chargeId)
    this.#world.refundCharge(bot, charge, false)
  }

  /** The next `count` updates for the bot are lost (polling and webhook alike). */
  dropNextDelivery(count = 1, options: BotSelector = {}): void {
    this.#world.requireBot(options.botToken).updates.dropNext(count)
  }

  /** The next `count` updates for the bot are delivered twice, with the same update_id. */
  duplicateNextDelivery(count = 1, options: BotSelector = {}): void {
    this.#world.requireBot(options.botToken).updates.duplicateNext(count)
  }

  /** Moves the virtual clock forward; returns the new time in unix ms. */
  advanceClock(ms: number): number {
    return this.clock.advance(ms)
  }

  /** The bot's whole Telegram-side ledger, oldest first (what getStarTransactions pages). */
  starTransactions(options: BotSelector = {}): StarTransaction[] {
    return structuredClone(this.#world.requireBot(options.botToken).stars.ledger)
  }

  /** Whole Stars of the bot's balance (see starAmount for the nanostars). */
  starBalance(options: BotSelector = {}): number {
    return this.#world.requireBot(options.botToken).stars.balance
  }

  /** The bot's balance as getMyStarBalance answers it: `{ amount, nanostar_amount? }`. */
  starAmount(options: BotSelector = {}): StarAmount {
    return this.#world.requireBot(options.botToken).stars.starAmount()
  }

  // ---- the bot's treasury (acting as Telegram) ------------------------------------------------

  /** The bot's owner withdraws Stars through Fragment: a pending `fragment` row. */
  withdrawStars(amount: number, options: BotSelector = {}): StarTransaction {
    const bot = this.#world.requireBot(options.botToken)
    if (!Number.isSafeInteger(amount)) throw new SandboxError('BAD_INPUT', 'whole Stars only')
    const row = this.#world.recordOutflow(
      bot,
      { type: 'fragment', withdrawal_state: { type: 'pending' } },
      amount * NANOSTARS_PER_STAR,
    )
    return structuredClone(row)
  }

  /** A pending withdrawal succeeds (dated now, with a Fragment URL) or fails (Stars return). */
  settleWithdrawal(
    transactionId: string,
    state: 'succeeded' | 'failed',
    options: BotSelector = {},
  ): StarTransaction {
    const stars = this.#world.requireBot(options.botToken).stars
    const row = stars.settleWithdrawal(
      transactionId,
      state === 'failed'
        ? { type: 'failed' }
        : {
            type: 'succeeded',
            date: this.clock.unixTime(),
            url: `https://fragment.com/tx/${transactionId.slice(-16)}`,
          },
    )
    return structuredClone(row)
  }

  /** Stars spent on Telegram Ads. */
  spendOnAds(stars: StarAmountInput, options: BotSelector = {}): StarTransaction {
    const bot = this.#world.requireBot(options.botToken)
    return structuredClone(
      this.#world.recordOutflow(bot, { type: 'telegram_ads' }, nanostarsOfInput(stars)),
    )
  }

  /** Stars spent on Bot API requests beyond the free limit (paid broadcasts). */
  spendOnApi(
    requestCount: number,
    stars: StarAmountInput,
    options: BotSelector = {},
  ): StarTransaction {
    if (!Number.isSafeInteger(requestCount) || requestCount < 1)
      throw new SandboxError('BAD_INPUT', 'requestCount must be a positive integer')
    const bot = this.#world.requireBot(options.botToken)
    return structuredClone(
      this.#world.recordOutflow(
        bot,
        { type: 'telegram_api', request_count: requestCount },
        nanostarsOfInput(stars),
      ),
    )
  }

  /** The bot spends Stars on a gift (`gift_purchase`) or Premium (`premium_purchase`) for a user. */
  spendOnGift(
    userId: number,
    input: { kind: 'gift' | 'premium'; amount: number; premiumMonths?: number | undefined },
    options: BotSelector = {},
  ): StarTransaction {
    const { bot, user } = this.#chat(userId, options)
    const partner: TransactionPartnerUser = {
      type: 'user',
      transaction_type: input.kind === 'gift' ? 'gift_purchase' : 'premium_purchase',
      user,
    }
    if (input.kind === 'premium') partner.premium_subscription_duration = input.premiumMonths ?? 3
    if (!Number.isSafeInteger(input.amount)) throw new SandboxError('BAD_INPUT', 'whole Stars only')
    return structuredClone(
      this.#world.recordOutflow(bot, partner, input.amount * NANOSTARS_PER_STAR),
    )
  }

  /** The bot earns a commission as an affiliate of another bot's program (fractions allowed). */
  earnAffiliateCommission(
    input: StarAmountInput & { commissionPerMille: number; sponsorUserId?: number | undefined },
    options: BotSelector = {},
  ): StarTransaction {
    const bot = this.#world.requireBot(options.botToken)
    const source: TransactionPartnerAffiliateProgram = {
      type: 'affiliate_program',
      commission_per_mille: input.commissionPerMille,
    }
    if (input.sponsorUserId !== undefined)
      source.sponsor_user = this.#world.requireUser(input.sponsorUserId)
    return structuredClone(this.#world.recordAffiliateEarning(bot, source, nanostarsOfInput(input)))
  }

  /** Every webhook POST so far, in order, with its outcome. */
  webhookAttempts(options: BotSelector = {}): WebhookAttempt[] {
    return structuredClone(this.#world.requireBot(options.botToken).updates.attempts)
  }

  /** Updates lost to dropNextDelivery. */
  droppedUpdates(options: BotSelector = {}): Update[] {
    return structuredClone(this.#world.requireBot(options.botToken).updates.dropped)
  }

  /** A file the bot uploaded (sendPhoto), by file_id. */
  file(fileId: string): StoredFile | undefined {
    return this.#world.files.get(fileId)
  }

  /** Stops delivery and timers, ends pending long polls, and closes the HTTP server. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#world.close()
      this.#server.close(() => resolve())
      this.#server.closeAllConnections()
    })
    return this.#closing
  }

  #chat(userId: number, options: BotSelector): { bot: SandboxBot; user: User } {
    return {
      bot: this.#world.requireBot(options.botToken),
      user: this.#world.requireUser(userId),
    }
  }

  /** @internal The HTTP entry point. */
  async handle(req: IncomingMessage, res: ServerResponse, extensions: SandboxExtension[]) {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid')
    const botCall = BOT_API_PATH.exec(url.pathname)
    if (botCall?.[1] && botCall[2]) {
      await this.#handleBotApi(req, res, url, botCall[1], botCall[2])
      return
    }
    if (url.pathname === '/sandbox' || url.pathname.startsWith('/sandbox/')) {
      await handleControlRequest(this, req, res, url, this.#access)
      return
    }
    for (const extension of extensions) {
      if (await extension.handle(req, res, this)) return
    }
    sendJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' })
  }

  async #handleBotApi(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    token: string,
    method: string,
  ): Promise<void> {
    const abort = new AbortController()
    res.on('close', () => abort.abort())
    try {
      const bot = this.#world.bots.get(decodeURIComponent(token))
      if (!bot) throw new BotApiError(401, 'Unauthorized')
      const params = await readBotApiParams(req, url)
      const result = await callBotApi(this.#world, bot, method, params, abort.signal)
      sendJson(res, 200, { ok: true, result })
    } catch (error) {
      if (error instanceof BotApiError) {
        sendJson(res, error.errorCode, {
          ok: false,
          error_code: error.errorCode,
          description: error.description,
        })
      } else {
        console.error('[sandbox] Bot API method failed', method, error)
        sendJson(res, 500, { ok: false, error_code: 500, description: 'Internal Server Error' })
      }
    }
  }
}

/** Stars given to a control call: whole Stars plus an optional nanostar part (0–999,999,999). */
export interface StarAmountInput {
  amount: number
  nanostarAmount?: number | undefined
}

function nanostarsOfInput({ amount, nanostarAmount = 0 }: StarAmountInput): number {
  if (!Number.isSafeInteger(amount) || amount < 0)
    throw new SandboxError('BAD_INPUT', 'amount must be whole Stars, 0 or more')
  if (
    !Number.isSafeInteger(nanostarAmount) ||
    nanostarAmount < 0 ||
    nanostarAmount >= NANOSTARS_PER_STAR
  )
    throw new SandboxError('BAD_INPUT', 'nanostarAmount must be 0–999999999')
  return amount * NANOSTARS_PER_STAR + nanostarAmount
}

function subscriptionInfo(s: Subscription): SubscriptionInfo {
  const renewalFailed = s.renewalFailed ?? false
  return {
    id: s.id,
    userId: s.user.id,
    expirationDate: s.expirationDate,
    canceled: s.canceled,
    renewalFailed,
    state: s.canceled ? 'canceled' : renewalFailed ? 'failed' : 'active',
    chargeIds: [...s.chargeIds],
  }
}

function infoOf(bot: SandboxBot): BotInfo {
  return { token: bot.token, user: { ...bot.user } }
}

function waitUntil<T>(
  bot: SandboxBot,
  timeoutMs: number,
  what: string,
  check: () => T | undefined,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const found = check()
    if (found !== undefined) {
      resolve(structuredClone(found))
      return
    }
    const stop = () => {
      clearTimeout(timer)
      unsubscribe()
    }
    const timer = setTimeout(() => {
      stop()
      reject(new SandboxError('TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`))
    }, timeoutMs)
    const unsubscribe = bot.onChange(() => {
      const value = check()
      if (value === undefined) return
      stop()
      resolve(structuredClone(value))
    })
  })
}

/** Starts a sandbox on loopback. Close it with `await sandbox.close()`. */
export async function createSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const clock = new VirtualClock(options.clock)
  const world: World = new World({
    clock,
    delivery: {
      retryBaseDelayMs: options.webhookRetryBaseDelayMs ?? 1000,
      retryMaxDelayMs: options.webhookRetryMaxDelayMs ?? 60_000,
      webhookTimeoutMs: options.webhookTimeoutMs ?? 10_000,
    },
    preCheckoutTimeoutMs: options.preCheckoutTimeoutMs ?? 10_000,
    emitRefundedPaymentOnBotRefund: options.emitRefundedPaymentOnBotRefund ?? true,
    // Telegram executes a method a webhook returns in its response body; errors are ignored.
    runWebhookReply: (bot, reply) => {
      callBotApi(world, bot, reply.method, reply.params).catch(() => undefined)
    },
  })
  for (const bot of options.bots ?? [DEMO_BOT]) world.createBot(bot)
  for (const user of options.users ?? []) world.createUser(user)
  if (options.starsJournal !== undefined) keepStarsJournal(world, options.starsJournal)

  const extensions = options.extensions ?? []
  let sandbox: Sandbox | undefined
  const server = createServer((req, res) => {
    sandbox?.handle(req, res, extensions).catch((error: unknown) => {
      console.error('[sandbox] request failed', error)
      sendJson(res, 500, { ok: false, error_code: 500, description: 'Internal Server Error' })
    })
  })
  if (options.controlToken !== undefined && options.controlToken.length < 16)
    throw new Error('controlToken: at least 16 characters')
  // Like Telegram's front ends, keep idle connections long: with Node's 5 s default a busy bot
  // reuses a socket the sandbox is closing and its call dies with ECONNRESET.
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  sandbox = new Sandbox(world, server, url, {
    token: options.controlToken ?? newControlToken(),
    origins: ownOrigins(url, options.allowedOrigins),
  })
  return sandbox
}
