import { randomBytes } from 'node:crypto'
import type { MessageContent, SandboxBot } from './bot.ts'
import { emit } from './emitted.ts'
import { BotApiError, badRequest } from './errors.ts'
import { formatText } from './formatting.ts'
import { isRecord, isUpload, jsonField, Params, type RawParams, tdMessage } from './params.ts'
import {
  type InvoiceTerms,
  PAID_MEDIA_MAX_STARS,
  PAID_MEDIA_MIN_STARS,
  SUBSCRIPTION_MAX_PRICE,
  SUBSCRIPTION_PERIOD_SECONDS,
} from './stars.ts'
import type {
  InlineKeyboardButton,
  InlineKeyboardMarkup,
  Message,
  MessageEntity,
  PaidMedia,
  PhotoSize,
  ReplyParameters,
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

const SECRET_TOKEN = /^[A-Za-z0-9_-]{1,256}$/

/** The Bot API methods the sandbox implements, by their documented names. */
const methods = {
  // The capability fields are "Returned only in getMe": the bot's messages carry bot.user.
  getMe: ({ bot }): User => ({ ...bot.user, ...bot.capabilities }),

  getUpdates: ({ bot, params, signal }) =>
    bot.updates.getUpdates({
      offset: params.integer('offset'),
      limit: params.integer('limit'),
      timeoutSec: params.integer('timeout'),
      allowedUpdates: allowedUpdatesOf(params),
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
      allowedUpdates: allowedUpdatesOf(params),
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
    const content = textContent(world, params)
    const markup = replyMarkupOf(params)
    const reply = replyParametersOf(params)
    const user = recipientOf(world, bot, params)
    return bot.addMessage(user, bot.user, {
      ...sendOptionsOf(bot, user, params, reply),
      ...content,
      ...(markup ? { reply_markup: markup } : {}),
    })
  },

  editMessageText: ({ world, bot, params }) => {
    const content = textContent(world, params)
    const markup = replyMarkupOf(params)
    if (params.has('inline_message_id')) throw badRequest('MESSAGE_ID_INVALID')
    const messageId = params.integer('message_id') ?? 0
    if (!params.has('chat_id') && messageId <= 0) {
      throw badRequest('message identifier is not specified')
    }
    const user = chatUserOf(world, params)
    const old = messageId > 0 ? bot.findMessage(user.id, messageId) : undefined
    if (!old) throw badRequest('message to edit not found')
    if (old.from?.id !== bot.user.id) throw badRequest("message can't be edited")
    if (old.text === undefined) throw badRequest('there is no text in the message to edit')
    if (
      old.text === content.text &&
      sameJson(old.entities ?? [], content.entities ?? []) &&
      sameJson(old.reply_markup, markup)
    ) {
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
    // Telegram reads the id as an integer; a missing or unknown one is "query is too old".
    const id = params.string('callback_query_id') ?? ''
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
    const caption = captionOf(world, params)
    const markup = replyMarkupOf(params)
    const reply = replyParametersOf(params)
    const user = recipientOf(world, bot, params)
    const content: MessageContent = {
      ...sendOptionsOf(bot, user, params, reply),
      photo: photoOf(world, params.raw.photo),
      ...caption,
    }
    if (markup) content.reply_markup = markup
    return bot.addMessage(user, bot.user, content)
  },

  sendInvoice: ({ world, bot, params }) => {
    const user = recipientOf(world, bot, params)
    const terms = invoiceTermsOf(params, { subscription: false })
    const markup = replyMarkupOf(params, { invoice: true })
    const reply = replyParametersOf(params)
    const content: MessageContent = {
      ...sendOptionsOf(bot, user, params, reply),
      invoice: {
        title: terms.title,
        description: terms.description,
        start_parameter: terms.startParameter,
        currency: terms.currency,
        total_amount: terms.amount,
      },
    }
    if (markup) content.reply_markup = markup
    const message = bot.addMessage(user, bot.user, content)
    bot.invoiceTerms.set(`${user.id}:${message.message_id}`, terms)
    return message
  },

  sendPaidMedia: ({ world, bot, params }) => {
    // get_integer_arg(star_count, 0, 0, 10^9): missing or not a number reads as 0.
    const starCount = clamp(params.integer('star_count') ?? 0, 0, 1_000_000_000)
    params.requireString('media')
    const rawMedia = params.json('media', 'paid media')
    const caption = captionOf(world, params)
    const markup = replyMarkupOf(params)
    const reply = replyParametersOf(params)
    const user = recipientOf(world, bot, params)
    // Telegram's range since Bot API 9.3; the description is the sandbox's (not verified).
    if (starCount < PAID_MEDIA_MIN_STARS || starCount > PAID_MEDIA_MAX_STARS) {
      throw badRequest('STARS_AMOUNT_INVALID')
    }
    const payload = params.string('payload') ?? ''
    if (Buffer.byteLength(payload) > 128) throw badRequest('PAYLOAD_INVALID')
    const media = paidMediaOf(world, params, rawMedia)
    const content: MessageContent = {
      ...sendOptionsOf(bot, user, params, reply),
      paid_media: { star_count: starCount, paid_media: media },
      ...caption,
    }
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
    const id = params.string('pre_checkout_query_id') ?? ''
    // to_bool: a missing or unreadable `ok` is false, which needs an error_message.
    const ok = params.boolean('ok') ?? false
    const errorMessage = ok ? undefined : params.requireString('error_message')
    world.answerPreCheckoutQuery(bot, id, ok, errorMessage)
    return true
  },

  refundStarPayment: ({ world, bot, params }) => {
    const userId = params.userId()
    const chargeId = params.requireString('telegram_payment_charge_id')
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
    const userId = params.userId()
    const chargeId = params.string('telegram_payment_charge_id') ?? ''
    // to_bool: a missing is_canceled is false (renewal resumes), as Telegram reads it.
    const isCanceled = params.boolean('is_canceled') ?? false
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

/**
 * `allowed_updates` as Client::get_allowed_update_types reads it: names in any case; text that
 * is not a JSON array of strings is ignored (the previous setting stays), never refused.
 */
function allowedUpdatesOf(params: Params): string[] | undefined {
  let value: unknown
  try {
    value = params.json('allowed_updates')
  } catch {
    return undefined
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return undefined
  return value.map((name) => name.toLowerCase())
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

/** The `text` of sendMessage/editMessageText with its entities, as Telegram stores them. */
function textContent(world: World, params: Params): { text: string; entities?: MessageEntity[] } {
  const text = params.string('text') ?? ''
  if (text === '') throw badRequest('message text is empty')
  const formatted = formatText(
    text,
    params.string('parse_mode'),
    entitiesParam(params, 'entities'),
    (id) => world.users.get(id),
  )
  if ([...formatted.text].length > 4096) throw badRequest('message is too long')
  return formatted.entities.length > 0
    ? { text: formatted.text, entities: formatted.entities }
    : { text: formatted.text }
}

/** A media caption with its caption_entities; none when the caption is empty. */
function captionOf(
  world: World,
  params: Params,
): { caption?: string; caption_entities?: MessageEntity[] } {
  const caption = params.string('caption') ?? ''
  if (caption === '') return {}
  const formatted = formatText(
    caption,
    params.string('parse_mode'),
    entitiesParam(params, 'caption_entities'),
    (id) => world.users.get(id),
    { allowEmpty: true },
  )
  if (formatted.text === '') return {}
  if ([...formatted.text].length > 1024) throw badRequest('message caption is too long')
  return formatted.entities.length > 0
    ? { caption: formatted.text, caption_entities: formatted.entities }
    : { caption: formatted.text }
}

/** An entities parameter; JSON Telegram cannot read is ignored (get_input_entities). */
function entitiesParam(params: Params, name: string): unknown {
  try {
    return params.json(name)
  } catch {
    return undefined
  }
}

/**
 * `reply_parameters` (or the older `reply_to_message_id` + `allow_sending_without_reply`),
 * read as Client::get_reply_parameters does.
 */
function replyParametersOf(params: Params): ReplyParameters | undefined {
  if (!params.has('reply_parameters')) {
    const messageId = Math.max(params.integer('reply_to_message_id') ?? 0, 0)
    if (messageId === 0) return undefined
    return {
      message_id: messageId,
      allow_sending_without_reply: params.boolean('allow_sending_without_reply') ?? false,
    }
  }
  const value = params.json('reply_parameters', 'reply parameters')
  if (!isRecord(value)) throw badRequest('object expected as reply parameters')
  if (Object.keys(value).length === 0) return undefined
  try {
    const chatId = jsonField.string(value, 'chat_id')
    const messageId = Math.max(jsonField.requireInteger(value, 'message_id'), 0)
    const allow = jsonField.boolean(value, 'allow_sending_without_reply') ?? false
    jsonField.string(value, 'quote')
    jsonField.string(value, 'quote_parse_mode')
    jsonField.integer(value, 'quote_position')
    jsonField.integer(value, 'checklist_task_id')
    jsonField.string(value, 'poll_option_id')
    if (messageId === 0) return undefined
    const reply: ReplyParameters = { message_id: messageId, allow_sending_without_reply: allow }
    if (chatId !== undefined && chatId !== '') reply.chat_id = chatId
    return reply
  } catch (error) {
    throw badRequest(tdMessage(error instanceof Error ? error.message : String(error)))
  }
}

/**
 * What a sent message carries besides its content: the message it replies to (refused as
 * Telegram refuses it when the message is not in the chat, unless allow_sending_without_reply)
 * and has_protected_content for protect_content.
 */
function sendOptionsOf(
  bot: SandboxBot,
  user: User,
  params: Params,
  reply: ReplyParameters | undefined,
): Pick<Message, 'reply_to_message' | 'has_protected_content'> {
  const options: Pick<Message, 'reply_to_message' | 'has_protected_content'> = {}
  if (reply) {
    // The sandbox's chats are private: another chat_id names no chat the reply could be in.
    const sameChat =
      reply.chat_id === undefined ||
      reply.chat_id === String(user.id) ||
      (user.username !== undefined &&
        reply.chat_id.toLowerCase() === `@${user.username}`.toLowerCase())
    const target = sameChat ? bot.findMessage(user.id, reply.message_id) : undefined
    if (target) {
      // "will not contain further reply_to_message fields even if it itself is a reply"
      const { reply_to_message: _nested, ...replied } = structuredClone(target)
      options.reply_to_message = replied
    } else if (!reply.allow_sending_without_reply) {
      throw badRequest('message to be replied not found')
    }
  }
  if (params.boolean('protect_content')) options.has_protected_content = true
  return options
}

/**
 * reply_markup as Client::get_reply_markup reads it. Only an inline keyboard becomes part of
 * the message (Message.reply_markup is an InlineKeyboardMarkup); a reply keyboard, its removal
 * or force_reply is checked and applies to the user's client only. An invoice's keyboard must
 * start with its Pay button.
 */
function replyMarkupOf(
  params: Params,
  input: { invoice: boolean } = { invoice: false },
): InlineKeyboardMarkup | undefined {
  const markup = params.json('reply_markup', 'reply keyboard markup')
  if (markup === undefined) return undefined
  if (!isRecord(markup)) throw badRequest('object expected as reply markup')
  if (markup.keyboard !== undefined) {
    if (!Array.isArray(markup.keyboard)) throw badRequest('field "keyboard" must be of type Array')
    for (const row of markup.keyboard) {
      if (!Array.isArray(row)) throw badRequest('field "keyboard" must be an Array of Arrays')
      for (const button of row) {
        if (typeof button === 'string') continue
        if (!isRecord(button)) {
          throw badRequest(
            "can't parse keyboard button: KeyboardButton must be a String or an Object",
          )
        }
        if (typeof button.text !== 'string') {
          throw badRequest(
            `can't parse keyboard button: ${button.text === undefined ? 'Can\'t find field "text"' : 'Field "text" must be of type String'}`,
          )
        }
      }
    }
  }
  const rows = markup.inline_keyboard
  if (rows === undefined || rows === null) return undefined
  if (!Array.isArray(rows)) throw badRequest('field "inline_keyboard" must be of type Array')
  const keyboard: InlineKeyboardButton[][] = rows.map((row: unknown) => {
    if (!Array.isArray(row)) {
      throw badRequest(
        'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays',
      )
    }
    return row.map((button: unknown) => {
      try {
        return inlineButtonOf(button)
      } catch (error) {
        if (error instanceof BotApiError) throw error
        const message = error instanceof Error ? error.message : String(error)
        throw badRequest(`can't parse inline keyboard button: ${message}`)
      }
    })
  })
  const buttons = keyboard.flat()
  if (buttons.length === 0) return undefined
  if (input.invoice) {
    // Telegram's answer when an invoice's keyboard does not start with its Pay button.
    if (buttons[0]?.pay !== true) throw badRequest('REPLY_MARKUP_BUY_EMPTY')
    if (buttons.slice(1).some((b) => b.pay === true)) throw badRequest('BUTTON_TYPE_INVALID')
  } else if (buttons.some((b) => b.pay === true)) {
    // A Pay button belongs to an invoice only.
    throw badRequest('BUTTON_TYPE_INVALID')
  }
  return { inline_keyboard: keyboard }
}

/**
 * One InlineKeyboardButton as Telegram keeps it: its text, its style fields and the one kind
 * of button it is, chosen in Telegram's order (url, callback_data, callback_game, pay, …);
 * anything else it was sent (Telegraf's `hide: false`) is dropped.
 */
function inlineButtonOf(button: unknown): InlineKeyboardButton {
  if (!isRecord(button)) throw new Error('InlineKeyboardButton must be an Object')
  const text = jsonField.requireString(button, 'text')
  const out: InlineKeyboardButton = { text }
  const icon = button.icon_custom_emoji_id
  if (icon !== undefined && icon !== null) out.icon_custom_emoji_id = String(icon)
  const style = jsonField.string(button, 'style')
  if (style !== undefined && style !== '' && style.toLowerCase() !== 'default') {
    if (!['primary', 'danger', 'success'].includes(style.toLowerCase())) {
      throw new Error('invalid button style specified')
    }
    out.style = style.toLowerCase()
  }
  const url = jsonField.string(button, 'url')
  if (url) return { ...out, url }
  const callbackData = jsonField.string(button, 'callback_data')
  if (callbackData) {
    if (Buffer.byteLength(callbackData) > 64) throw badRequest('BUTTON_DATA_INVALID')
    return { ...out, callback_data: callbackData }
  }
  if ('callback_game' in button) return { ...out, callback_game: {} }
  if ('pay' in button) return { ...out, pay: true }
  for (const field of ['switch_inline_query', 'switch_inline_query_current_chat']) {
    if (field in button) return { ...out, [field]: jsonField.requireString(button, field) }
  }
  for (const field of ['switch_inline_query_chosen_chat', 'login_url', 'web_app', 'copy_text']) {
    if (!(field in button)) continue
    const value = button[field]
    if (!isRecord(value)) throw new Error(`Field "${field}" must be of type Object`)
    if (field === 'web_app' || field === 'login_url') jsonField.requireString(value, 'url')
    if (field === 'copy_text') jsonField.requireString(value, 'text')
    return { ...out, [field]: value }
  }
  throw new Error('Text buttons are unallowed in the inline keyboard')
}

/** Validates an invoice the way Telegram does for Stars (the only currency here). */
function invoiceTermsOf(params: Params, input: { subscription: boolean }): InvoiceTerms {
  const title = params.requireString('title')
  const description = params.requireString('description')
  const payload = params.requireString('payload')
  const currency = params.requireString('currency')
  params.requireString('prices')
  const prices = params.json('prices')
  if (!Array.isArray(prices)) throw badRequest('expected an Array of labeled prices')
  const amounts = prices.map((price: unknown) => {
    try {
      if (!isRecord(price)) throw new Error('LabeledPrice must be an Object')
      if (jsonField.requireString(price, 'label') === '') {
        throw new Error('LabeledPrice label must be non-empty')
      }
      return jsonField.requireInteger(price, 'amount')
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      throw badRequest(`can't parse labeled price: ${message}`)
    }
  })
  if (amounts.length === 0) throw badRequest('there must be at least one price')
  if (currency !== 'XTR') throw badRequest('CURRENCY_INVALID')
  if (params.has('provider_token')) throw badRequest('PAYMENT_PROVIDER_INVALID')
  if (amounts.length !== 1) throw badRequest('STARS_INVOICE_INVALID')
  const amount = amounts[0] ?? 0
  if (amount <= 0) throw badRequest('CURRENCY_TOTAL_AMOUNT_INVALID')
  if (params.has('max_tip_amount') || params.has('suggested_tip_amounts')) {
    throw badRequest('STARS_INVOICE_INVALID')
  }
  if ([...title].length > 32) throw badRequest('INVOICE_TITLE_INVALID')
  if ([...description].length > 255) throw badRequest('INVOICE_DESCRIPTION_INVALID')
  const payloadBytes = Buffer.byteLength(payload)
  if (payloadBytes < 1 || payloadBytes > 128) throw badRequest('INVOICE_PAYLOAD_INVALID')
  let subscriptionPeriod: number | undefined
  // get_integer_arg(subscription_period, 0, 0): 0 (or unreadable) is no subscription.
  const period = Math.max(params.integer('subscription_period') ?? 0, 0)
  if (input.subscription && period !== 0) {
    subscriptionPeriod = period
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
  if (!Array.isArray(raw)) throw badRequest('expected an Array of InputPaidMedia')
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
