import type { EStarsClient } from '@e-stars/api/client'
import {
  DEFAULT_MESSAGES,
  type EStarsMessages,
  eStars,
  type Logger,
  type RetryPolicy,
} from '@e-stars/telegraf'
import { Telegraf } from 'telegraf'
import { ChatQueue } from './chat-queue.ts'
import { type BotContext, DEFAULT_FEATURES, type FeatureKeys } from './context.ts'
import { askFeature } from './features/ask.ts'
import { balanceFeature } from './features/balance.ts'
import { buyFeature } from './features/buy.ts'
import { helpFeature } from './features/help.ts'
import { imagineFeature } from './features/imagine.ts'
import { plansFeature } from './features/plans.ts'
import { privateOnlyFeature } from './features/private-only.ts'
import { startFeature } from './features/start.ts'
import { supportFeature } from './features/support.ts'
import { unhandledFeature } from './features/unhandled.ts'
import { usageFeature } from './features/usage.ts'
import type { ChatModel } from './model/types.ts'
import { Catalog } from './on-sale.ts'
import { fitText, TELEGRAM_LIMITS, WORDS } from './wording.ts'

export interface CreateBotOptions {
  /** From @BotFather, or the sandbox's demo token. */
  token: string
  /** Default https://api.telegram.org; the sandbox's apiRoot in the demo and the tests. */
  apiRoot?: string | undefined
  client: EStarsClient
  model: ChatModel
  logger: Logger
  features?: Partial<FeatureKeys>
  precheckTimeoutMs?: number | undefined
  recordRetry?: Partial<RetryPolicy> | undefined
}

export interface ReferenceBot {
  bot: Telegraf<BotContext>
  catalog: Catalog
  /** Limits already explained to a user (see refusals.ts); nudges skip them. */
  told: Set<string>
  features: FeatureKeys
  /** Per-chat order, every chat at once; `queue.idle()` drains it on shutdown. */
  queue: ChatQueue
}

const messages: Partial<EStarsMessages> = {
  paymentReceived: (p) => {
    const base = DEFAULT_MESSAGES.paymentReceived(p)
    if (base === null || p.status !== 'paid' || p.flag) return base
    const parts = [
      p.credits > 0 ? WORDS.payments.credits(p.credits) : null,
      p.entitlement ? WORDS.payments.pro(p.entitlement.endsAt) : null,
    ].filter((part) => part !== null)
    return WORDS.payments.received(parts, p.available)
  },
}

/** Updates of one chat waiting or running; the next message beyond is answered "one at a time". */
export const MAX_QUEUED_PER_CHAT = 10

/** Any text the bot sends stays inside Telegram's limits (4,096 characters; captions 1,024). */
function keepInsideTelegramLimits(ctx: BotContext) {
  const reply = ctx.reply.bind(ctx)
  ctx.reply = ((text: unknown, extra?: object) =>
    // Formatted text (FmtString) carries entities by offset: it is passed as it is.
    reply(typeof text === 'string' ? fitText(text) : (text as string), extra)) as typeof ctx.reply
  const replyWithPhoto = ctx.replyWithPhoto.bind(ctx)
  ctx.replyWithPhoto = ((photo: never, extra?: { caption?: string }) =>
    replyWithPhoto(
      photo,
      extra?.caption === undefined
        ? extra
        : { ...extra, caption: fitText(extra.caption, TELEGRAM_LIMITS.caption) },
    )) as typeof ctx.replyWithPhoto
}

/**
 * The reference AI bot: e-Stars middleware first (payments are recorded before the update is
 * acknowledged, pre-checkout answered at once), then private chats only, then the per-chat
 * queue, one composer per feature, the unhandled-update feature last, and an error handler that
 * logs with the update id and tells the user. `main.ts` decides polling or webhook; tests launch
 * it against the sandbox.
 */
export function createBot(options: CreateBotOptions): ReferenceBot {
  const bot = new Telegraf<BotContext>(options.token, {
    // Replies are API calls, never the webhook's response: the response is sent before the work.
    telegram: { webhookReply: false, ...(options.apiRoot ? { apiRoot: options.apiRoot } : {}) },
  })
  const catalog = new Catalog(options.client)
  const features = { ...DEFAULT_FEATURES, ...options.features }
  const told = new Set<string>()
  const invoicesSent = new Map<number, number>()
  const queue = new ChatQueue()
  bot.use((ctx, next) => {
    ctx.model = options.model
    ctx.catalog = catalog
    ctx.features = features
    ctx.logger = options.logger
    ctx.told = told
    ctx.invoicesSent = invoicesSent
    if (told.size > 50_000) told.clear()
    keepInsideTelegramLimits(ctx)
    return next()
  })
  bot.use(
    eStars({
      client: options.client,
      logger: options.logger,
      paySupport: false,
      messages,
      ...(options.precheckTimeoutMs ? { precheckTimeoutMs: options.precheckTimeoutMs } : {}),
      ...(options.recordRetry ? { recordRetry: options.recordRetry } : {}),
    }),
  )
  bot.use(privateOnlyFeature)
  const handleError = async (error: unknown, ctx: BotContext) => {
    options.logger.error(
      {
        updateId: ctx.update.update_id,
        telegramUserId: ctx.from?.id,
        err: error instanceof Error ? { name: error.name, message: error.message } : String(error),
      },
      'handling an update failed',
    )
    try {
      if (ctx.callbackQuery) await ctx.answerCbQuery(WORDS.errors.callback)
      else if (ctx.chat) await ctx.reply(WORDS.errors.apology)
    } catch {
      // Telegram unreachable too: the log line above is all we can do.
    }
  }
  // The update is acknowledged now; its chat's queue runs the features (errors: handleError).
  bot.use((ctx, next) => {
    const chat = ctx.chat?.id ?? ctx.from?.id
    if (chat === undefined) return next()
    // A flood from one chat waits its turn; past a point it is turned away, not piled up.
    if (queue.pending(String(chat)) >= MAX_QUEUED_PER_CHAT && ctx.message)
      return ctx.reply(WORDS.busy).then(() => undefined)
    void queue.run(String(chat), next).catch((error: unknown) => handleError(error, ctx))
  })
  bot.use(
    startFeature,
    helpFeature,
    buyFeature,
    plansFeature,
    balanceFeature,
    usageFeature,
    imagineFeature,
    supportFeature,
    askFeature,
    unhandledFeature,
  )
  bot.catch(handleError)
  return { bot, catalog, told, features, queue }
}
