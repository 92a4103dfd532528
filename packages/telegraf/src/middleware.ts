import type { Billing, EStarsOptions, Logger, PaySupportOptions } from '@e-stars/bot-core'
import { answerPaySupport, type BotChannel, createEStarsCore } from '@e-stars/bot-core/adapter'
import { type BotApi, botApiFromTelegraf } from '@e-stars/telegram'
import { Composer, type Context, type MiddlewareFn, type Telegram } from 'telegraf'

/** A Telegraf context with `ctx.billing`: declare your bot as `new Telegraf<EStarsContext>(token)`. */
export interface EStarsContext extends Context {
  billing: Billing
}

// Telegraf 4.16 has no Stars-typed sendInvoice (provider_token is required there).
const botApis = new WeakMap<Telegram, BotApi>()
function botApiOf(telegram: Telegram): BotApi {
  let api = botApis.get(telegram)
  if (!api) {
    api = botApiFromTelegraf(telegram)
    botApis.set(telegram, api)
  }
  return api
}

/** The core's view of a Telegraf context. */
function channelOf(ctx: Context): BotChannel {
  return {
    update: ctx.update,
    botId: ctx.botInfo?.id,
    from: ctx.from,
    chatId: ctx.chat?.id,
    answerPreCheckoutQuery: (ok, errorMessage) => ctx.answerPreCheckoutQuery(ok, errorMessage),
    sendMessage: (chatId, text, markup) =>
      ctx.telegram.sendMessage(chatId, text, markup ? { reply_markup: markup } : {}),
    sendInvoice: (params) => botApiOf(ctx.telegram).sendInvoice(params),
  }
}

/**
 * e-Stars for an existing Telegraf bot: answers pre-checkout queries through `checkout.precheck`
 * (refusing politely if e-Stars is slow), records `successful_payment` and `refunded_payment`
 * exactly once, adds `ctx.billing` to every update, and handles `/paysupport`.
 *
 * `bot.use(eStars({ client }))` before your own handlers.
 */
export function eStars(options: EStarsOptions): Composer<EStarsContext> {
  const core = createEStarsCore(options)
  const composer = new Composer<EStarsContext>()
  composer.use(async (ctx, next) => {
    const channel = channelOf(ctx)
    ctx.billing = core.billingFor(channel)
    if ((await core.handle(channel, ctx.billing)) === 'next') return next()
  })
  if (core.paySupport)
    composer.command('paysupport', paySupportHandler(core.paySupport, core.logger))
  return composer
}

/** The `/paysupport` answer, for a bot that registers the command itself (`paySupport: false`). */
export function paySupportHandler(
  options: PaySupportOptions,
  logger: Logger,
): MiddlewareFn<EStarsContext> {
  return (ctx) => answerPaySupport(channelOf(ctx), ctx.billing.client, options, logger)
}
