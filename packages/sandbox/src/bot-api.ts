import { randomBytes } from 'node:crypto'
import type { MessageContent, SandboxBot } from './bot.ts'
import { emit } from './emitted.ts'
import { BotApiError, badRequest } from './errors.ts'
import { isRecord, isUpload, Params, type RawParams } from './params.ts'
import {
  type InvoiceTerms,
  PAID_MEDIA_MAX_STARS,
  PAID_MEDIA_MIN_STARS,
  SUBSCRIPTION_MAX_PRICE,
  SUBSCRIPTION_PERIOD_SECONDS,
} from './stars.ts'
import type {
  InlineKeyboardButton,
  Message,
  PaidMedia,
  PhotoSize,
  ReplyMarkup,
  StarAmount,
  StarTransactions,
  User,
  WebhookInfo,
} from './types.ts'
import type { World } from './world.ts'

interface BotApiCall {
  world: World
  bot: SandboxBot
  params: Params
  signal: AbortSignal
}

type MethodHandler = (call: BotApiCall) => unknown

const PARSE_MODES = new Set(['HTML', 'Markdown', 'MarkdownV2'])
const SECRET_TOKEN = /^[A-Za-z0-9_-]{1,256}$/
const BUTTON_FIELDS = new Set([
  'icon_custom_emoji_id',
  'style',
  'url',
  'callback_data',
  'web_app',
  'login_url',
  'switch_inline_query',
  'switch_inline_query_current_chat',
  'switch_inline_query_chosen_chat',
  'copy_text',
  'callback_game',
  'pay',
])

/** The Bot API methods the sandbox implements, by their documented names. */
const methods = {
  getMe: ({ bot }) => bot.user,

  getUpdates: ({ bot, params, signal }) =>
    bot.updates.getUpdates({
      offset: params.integer('offset'),
      limit: params.integer('limit'),
      timeoutSec: params.integer('timeout'),
      allowedUpdates: params.stringArray('allowed_updates'),
      signal,
    }),

  setWebhook: ({ bot, params }) => {
    const url = params.string('url')
    if (url === undefined) throw badRequest('parameter "url" is required')
    const drop = params.boolean('drop_pending_updates')
    if (url === '') {
      bot.updates.deleteWebhook(drop)
      return true
    }
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw badRequest('bad webhook: invalid webhook URL specified')
    }
    // Telegram insists on HTTPS; the sandbox also takes http:// so a local receiver works.
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw badRequest('bad webhook: An HTTPS URL must be provided for webhook')
    }
    const secretToken = params.string('secret_token')
    if (secretToken !== undefined && secretToken !== '' && !SECRET_TOKEN.test(secretToken)) {
      throw badRequest('bad webhook: secret token contains unallowed characters')
    }
    const maxConnections = params.integer('max_connections')
    bot.updates.setWebhook({
      url,
      secretToken: secretToken || undefined,
      maxConnections: maxConnections === undefined ? 40 : clamp(maxConnections, 1, 100),
      allowedUpdates: params.stringArray('allowed_updates'),
      dropPendingUpdates: drop,
    })
    return true
  },

  deleteWebhook: ({ bot, params }) => {
    bot.updates.deleteWebhook(params.boolean('drop_pending_updates'))
    return true
  },

  getWebhookInfo: ({ bot }) => {
    const { webhook, lastError, pendingCount, allowedUpdates } = bot.updates
    const info: WebhookInfo = {
      url: webhook?.url ?? '',
      has_custom_certificate: false,
      pending_update_count: pendingCount,
    }
    if (lastError) {
      info.last_error_date = lastError.date
      info.last_error_message = lastError.message
    }
    if (webhook) info.max_connections = webhook.maxConnections
    if (allowedUpdates) info.allowed_updates = allowedUpdates
    return info
  },

  sendMessage: ({ world, bot, params }) => {
    const user = recipientOf(world, bot, params)
    const content = formattedText(params)
    const markup = replyMarkupOf(params)
    if (markup) content.reply_markup = markup
    return bot.addMessage(user, bot.user, content)
  },

  editMessageText: ({ world, bot, params }) => {
    if (params.has('inline_message_id')) throw badRequest('MESSAGE_ID_INVALID')
    const user = chatUserOf(world, params)
    const messageId = params.integer('message_id')
    if (messageId === undefined) throw badRequest('message identifier is not specified')
    const content = formattedText(params)
    const old = bot.findMessage(user.id, messageId)
    if (!old) throw badRequest('message to edit not found')
    if (old.from?.id !== bot.user.id) throw badRequest("message can't be edited")
    if (old.text === undefined) throw badRequest('there is no text in the message to edit')
    const markup = replyMarkupOf(params)
    if (old.text === content.text && sameJson(old.reply_markup, markup)) {
      throw badRequest(
        'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
      )
    }
    // Omitting reply_markup on an edit removes the keyboard, as in Telegram.
    const { reply_markup: _dropped, entities: _old, ...rest } = old
    const edited: Message = { ...rest, ...content, edit_date: world.clock.unixTime() }
    if (markup) edited.reply_markup = markup
    bot.replaceMessage(user.id, edited)
    return edited
  },

  answerCallbackQuery: ({ world, bot, params }) => {
    const id = params.requireString('callback_query_id')
    const text = params.string('text')
    if (text !== undefined && [...text].length > 200) throw badRequest('MESSAGE_TOO_LONG')
    const answer: { text?: string; show_alert?: boolean; url?: string } = {}
    if (text) answer.text = text
    const showAlert = params.boolean('show_alert')
    if (showAlert !== undefined) answer.show_alert = showAlert
    const url = params.string('url')
    if (url) answer.url = url
    world.answerCallbackQuery(bot, id, answer)
    return true
  },

  sendPhoto: ({ world, bot, params }) => {
    const user = recipientOf(world, bot, params)
    const content: MessageContent = { photo: photoOf(world, params.raw.photo) }
    const caption = params.string('caption')
    if (caption) {
      if ([...caption].length > 1024) throw badRequest('message caption is too long')
      content.caption = stripFormatting(caption, params.string('parse_mode'))
    }
    const markup = replyMarkupOf(params)
    if (markup) content.reply_markup = markup
    return bot.addMessage(user, bot.user, content)
  },

  sendInvoice: ({ world, bot, params }) => {
    const user = recipientOf(world, bot, params)
    const terms = invoiceTermsOf(params, { subscription: false })
    const content: MessageContent = {
      invoice: {
        title: terms.title,
        description: terms.description,
        start_parameter: terms.startParameter,
        currency: terms.currency,
        total_amount: terms.amount,
      },
    }
    const markup = replyMarkupOf(params)
    if (markup) content.reply_markup = markup
    const message = bot.addMessage(user, bot.user, content)
    bot.invoiceTerms.set(`${user.id}:${message.message_id}`, terms)
    return message
  },

  sendPaidMedia: ({ world, bot, params }) => {
    const user = recipientOf(world, bot, params)
    const starCount = params.requireInteger('star_count')
    const rawMedia = params.json('media')
    if (rawMedia === undefined) throw badRequest('parameter "media" is required')
    // Telegram's range since Bot API 9.3; the description is the sandbox's (not verified).
    if (starCount < PAID_MEDIA_MIN_STARS || starCount > PAID_MEDIA_MAX_STARS) {
      throw badRequest('STARS_AMOUNT_INVALID')
    }
    const payload = params.string('payload') ?? ''
    if (Buffer.byteLength(payload) > 128) throw badRequest('PAYLOAD_INVALID')
    const media = paidMediaOf(world, params, rawMedia)
    const content: MessageContent = { paid_media: { star_count: starCount, paid_media: media } }
    const caption = params.string('caption')
    if (caption) {
      if ([...caption].length > 1024) throw badRequest('message caption is too long')
      content.caption = stripFormatting(caption, params.string('parse_mode'))
    }
    const markup = replyMarkupOf(params)
    if (markup) content.reply_markup = markup
    const message = bot.addMessage(user, bot.user, content)
    bot.paidMediaOffers.set(`${user.id}:${message.message_id}`, { starCount, payload, media })
    return message
  },

  createInvoiceLink: ({ world, bot, params }) => {
    const terms = invoiceTermsOf(params, { subscription: true })
    const slug = randomBytes(12).toString('base64url')
    world.invoiceLinks.set(slug, { bot, terms })
    return `https://t.me/$${slug}`
  },

  answerPreCheckoutQuery: ({ world, bot, params }) => {
    const id = params.requireString('pre_checkout_query_id')
    const ok = params.requireBoolean('ok')
    world.answerPreCheckoutQuery(bot, id, ok, params.string('error_message'))
    return true
  },

  refundStarPayment: ({ world, bot, params }) => {
    const userId = params.requireInteger('user_id')
    const chargeId = params.string('telegram_payment_charge_id') ?? ''
    const charge = world.chargeForBotCall(bot, userId, chargeId)
    if (charge.refunded) throw badRequest('CHARGE_ALREADY_REFUNDED')
    world.refundCharge(bot, charge, world.options.emitRefundedPaymentOnBotRefund)
    return true
  },

  getStarTransactions: ({ bot, params }) => {
    const offset = Math.max(params.integer('offset') ?? 0, 0)
    const limit = clamp(params.integer('limit') ?? 100, 1, 100)
    const page: StarTransactions = {
      transactions: structuredClone(bot.stars.ledger.slice(offset, offset + limit)),
    }
    return page
  },

  editUserStarSubscription: ({ world, bot, params }) => {
    const userId = params.requireInteger('user_id')
    const chargeId = params.string('telegram_payment_charge_id') ?? ''
    const isCanceled = params.requireBoolean('is_canceled')
    world.subscriptionForBotCall(bot, userId, chargeId).canceled = isCanceled
    bot.stars.changed()
    return true
  },

  getMyStarBalance: ({ bot }): StarAmount => bot.stars.starAmount(),
} satisfies Record<string, MethodHandler>

export type BotApiMethod = keyof typeof methods

export const BOT_API_METHODS = Object.keys(methods) as BotApiMethod[]

// Telegram matches method names case-insensitively.
const byLowerName = new Map<string, { name: string; handler: MethodHandler }>(
  Object.entries(methods).map(([name, handler]) => [name.toLowerCase(), { name, handler }]),
)

/** Runs one Bot API method for `bot`; throws BotApiError as Telegram would answer. */
export async function callBotApi(
  world: World,
  bot: SandboxBot,
  method: string,
  raw: RawParams,
  signal: AbortSignal = new AbortController().signal,
): Promise<unknown> {
  const entry = byLowerName.get(method.toLowerCase())
  if (!entry) throw new BotApiError(404, 'Not Found')
  const result = await entry.handler({ world, bot, params: new Params(raw), signal })
  emit({ kind: 'result', method: entry.name, value: result })
  return result
}

// ---- parameter helpers ------------------------------------------------------------------

function clamp(n: number, min: number, max: number): number {
  return Math.min(Math.max(n, min), max)
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null)
}

/** The user of a private chat named by chat_id (the sandbox has private chats only). */
function chatUserOf(world: World, params: Params): User {
  const raw = params.string('chat_id')
  if (raw === undefined || raw === '') throw badRequest('chat_id is empty')
  const user = /^-?\d+$/.test(raw) ? world.users.get(Number(raw)) : undefined
  if (!user) throw badRequest('chat not found')
  return user
}

function recipientOf(world: World, bot: SandboxBot, params: Params): User {
  const user = chatUserOf(world, params)
  if (!bot.hasStarted(user.id)) {
    throw new BotApiError(403, "Forbidden: bot can't initiate conversation with a user")
  }
  return user
}

/** Text as Telegram stores it: HTML tags removed and entities decoded; other modes kept raw. */
function formattedText(params: Params): MessageContent & { text: string } {
  const text = params.string('text')
  if (text === undefined || text === '') throw badRequest('message text is empty')
  if ([...text].length > 4096) throw badRequest('message is too long')
  return { text: stripFormatting(text, params.string('parse_mode')) }
}

function stripFormatting(text: string, parseMode: string | undefined): string {
  if (parseMode === undefined || parseMode === '') return text
  if (!PARSE_MODES.has(parseMode)) throw badRequest(`unsupported parse_mode`)
  if (parseMode !== 'HTML') return text
  return text
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
}

function replyMarkupOf(params: Params): ReplyMarkup | undefined {
  const markup = params.json('reply_markup')
  if (markup === undefined) return undefined
  if (!isRecord(markup)) throw badRequest("can't parse reply keyboard markup JSON object")
  if (markup.inline_keyboard === undefined) return markup
  const rows = markup.inline_keyboard
  if (!Array.isArray(rows) || !rows.every(Array.isArray)) {
    throw badRequest(
      'can\'t parse inline keyboard markup: field "inline_keyboard" must be an Array',
    )
  }
  const keyboard: InlineKeyboardButton[][] = rows.map((row: unknown[]) =>
    row.map((button) => {
      if (!isRecord(button) || typeof button.text !== 'string') {
        throw badRequest(
          "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        )
      }
      if (
        typeof button.callback_data === 'string' &&
        Buffer.byteLength(button.callback_data) > 64
      ) {
        throw badRequest('BUTTON_DATA_INVALID')
      }
      // Telegram keeps only the fields it knows (Telegraf adds e.g. `hide: false`).
      const known = Object.entries(button).filter(([field]) => BUTTON_FIELDS.has(field))
      return { ...Object.fromEntries(known), text: button.text }
    }),
  )
  return { ...markup, inline_keyboard: keyboard }
}

/** Validates an invoice the way Telegram does for Stars (the only currency here). */
function invoiceTermsOf(params: Params, input: { subscription: boolean }): InvoiceTerms {
  const title = params.requireString('title')
  const description = params.requireString('description')
  const payload = params.string('payload')
  if (payload === undefined) throw badRequest('parameter "payload" is required')
  const currency = params.requireString('currency')
  const prices = params.json('prices')
  if (prices === undefined) throw badRequest('parameter "prices" is required')
  if (currency !== 'XTR') throw badRequest('CURRENCY_INVALID')
  if (params.has('provider_token')) throw badRequest('PAYMENT_PROVIDER_INVALID')
  if (!Array.isArray(prices)) throw badRequest("can't parse prices JSON array")
  if (prices.length !== 1) throw badRequest('STARS_INVOICE_INVALID')
  const price: unknown = prices[0]
  if (!isRecord(price) || typeof price.label !== 'string') {
    throw badRequest('can\'t parse labeled price: Field "label" must be of type String')
  }
  const amount = typeof price.amount === 'string' ? Number(price.amount) : price.amount
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) {
    throw badRequest('CURRENCY_TOTAL_AMOUNT_INVALID')
  }
  if (params.has('max_tip_amount') || params.has('suggested_tip_amounts')) {
    throw badRequest('STARS_INVOICE_INVALID')
  }
  if ([...title].length > 32) throw badRequest('INVOICE_TITLE_INVALID')
  if ([...description].length > 255) throw badRequest('INVOICE_DESCRIPTION_INVALID')
  const payloadBytes = Buffer.byteLength(payload)
  if (payloadBytes < 1 || payloadBytes > 128) throw badRequest('INVOICE_PAYLOAD_INVALID')
  let subscriptionPeriod: number | undefined
  if (input.subscription && params.has('subscription_period')) {
    subscriptionPeriod = params.requireInteger('subscription_period')
    if (subscriptionPeriod !== SUBSCRIPTION_PERIOD_SECONDS) {
      throw badRequest('SUBSCRIPTION_PERIOD_INVALID')
    }
    if (amount > SUBSCRIPTION_MAX_PRICE) throw badRequest('STARS_INVOICE_INVALID')
  }
  return {
    title,
    description,
    payload,
    currency: 'XTR',
    amount,
    startParameter: params.string('start_parameter') ?? '',
    subscriptionPeriod,
  }
}

/** InputPaidMedia items (1–10): a photo or a video, by file_id, URL or `attach://<part>`. */
function paidMediaOf(world: World, params: Params, raw: unknown): PaidMedia[] {
  if (!Array.isArray(raw)) throw badRequest("can't parse media JSON array")
  if (raw.length < 1 || raw.length > 10) throw badRequest('wrong number of media specified')
  return raw.map((item: unknown) => {
    if (!isRecord(item) || typeof item.media !== 'string') {
      throw badRequest('can\'t parse InputPaidMedia: Field "media" must be of type String')
    }
    const attach = /^attach:\/\/(.+)$/.exec(item.media)?.[1]
    const source = attach === undefined ? item.media : params.raw[attach]
    if (item.type === 'photo') return { type: 'photo', photo: photoOf(world, source) }
    if (item.type === 'video') {
      const photo = photoOf(world, source)[0]
      const num = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : 0)
      return {
        type: 'video',
        video: {
          file_id: photo?.file_id ?? item.media,
          file_unique_id: photo?.file_unique_id ?? item.media.slice(-12),
          width: num(item.width),
          height: num(item.height),
          duration: num(item.duration),
        },
      }
    }
    throw badRequest("can't parse InputPaidMedia: unsupported media type specified")
  })
}

function photoOf(world: World, photo: unknown): PhotoSize[] {
  if (isUpload(photo)) {
    const fileId = `AgACAgSANDBOX${randomBytes(12).toString('base64url')}`
    world.files.set(fileId, { data: photo.data, contentType: photo.contentType })
    const { width, height } = pngSize(photo.data)
    return [
      {
        file_id: fileId,
        file_unique_id: fileId.slice(-12),
        width,
        height,
        file_size: photo.data.length,
      },
    ]
  }
  if (typeof photo !== 'string' || photo === '') {
    throw badRequest('there is no photo in the request')
  }
  // A file_id or a URL: recorded as is, without fetching (the sandbox has no network).
  const known = world.files.get(photo)
  const size = known ? pngSize(known.data) : { width: 0, height: 0 }
  return [{ file_id: photo, file_unique_id: photo.slice(-12), ...size }]
}

function pngSize(data: Buffer): { width: number; height: number } {
  const isPng = data.length >= 24 && data.readUInt32BE(0) === 0x89504e47
  return isPng
    ? { width: data.readUInt32BE(16), height: data.readUInt32BE(20) }
    : { width: 0, height: 0 }
}
