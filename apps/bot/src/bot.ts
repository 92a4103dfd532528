import type { EStarsClient } from '@e-stars/api/client'
import {
  DEFAULT_MESSAGES,
  type EStarsMessages,
  eStars,
  type Logger,
  type RetryPolicy,
} from '@e-stars/telegraf'
import { Telegraf } from 'telegraf'
import { Catalog } from './catalog.ts'
import { type BotContext, DEFAULT_FEATURES, type FeatureKeys } from './context.ts'
import { askFeature } from './features/ask.ts'
import { balanceFeature } from './features/balance.ts'
import { buyFeature } from './features/buy.ts'
import { helpFeature } from './features/help.ts'
import { imagineFeature } from './features/imagine.ts'
import { plansFeature } from './features/plans.ts'
import { startFeature } from './features/start.ts'
import { supportFeature } from './features/support.ts'
import { unhandledFeature } from './features/unhandled.ts'
import { usageFeature } from './features/usage.ts'
import type { ChatModel } from './model/types.ts'
import { formatCount, until } from './wording.ts'

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
}

const messages: Partial<EStarsMessages> = {
  paymentReceived: (p) => {
    const base = DEFAULT_MESSAGES.paymentReceived(p)
    if (base === null || p.status !== 'paid' || p.flag) return base
    const parts = [
      p.credits > 0 ? `+${formatCount(p.credits)} credits` : null,
      p.entitlement ? `Pro ${until(p.entitlement.endsAt)}` : null,
    ].filter(Boolean)
    return `Payment received, thank you! ${parts.join(', ')}.\nBalance: ${formatCount(p.available)} credits. Ask away!`
  },
}

/**
 * The reference AI bot: e-Stars middleware first, then one composer per feature, the
 * unhandled-update feature last, and an error handler that logs with the update id and tells
 * the user. `main.ts` decides polling or webhook; tests launch it against the sandbox.
 */
export function createBot(options: CreateBotOptions): ReferenceBot {
  const bot = new Telegraf<BotContext>(options.token, {
    telegram: options.apiRoot ? { apiRoot: options.apiRoot } : {},
  })
  const catalog = new Catalog(options.client)
  const features = { ...DEFAULT_FEATURES, ...options.features }
  const told = new Set<string>()
  bot.use((ctx, next) => {
    ctx.model = options.model
    ctx.catalog = catalog
    ctx.features = features
    ctx.logger = options.logger
    ctx.told = told
    if (told.size > 50_000) told.clear()
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
  bot.catch(async (error, ctx) => {
    options.logger.error(
      {
        updateId: ctx.update.update_id,
        telegramUserId: ctx.from?.id,
        err: error instanceof Error ? { name: error.name, message: error.message } : String(error),
      },
      'handling an update failed',
    )
    try {
      if (ctx.callbackQuery) await ctx.answerCbQuery('Something went wrong; please try again.')
      else if (ctx.chat)
        await ctx.reply('Sorry, something went wrong on my side. Please try again in a minute.')
    } catch {
      // Telegram unreachable too: the log line above is all we can do.
    }
  })
  return { bot, catalog, told, features }
}
