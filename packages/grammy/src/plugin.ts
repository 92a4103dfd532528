import type { Billing, EStarsOptions, Logger, PaySupportOptions } from '@e-stars/bot-core'
import { answerPaySupport, type BotChannel, createEStarsCore } from '@e-stars/bot-core/adapter'
import { Composer, type Context, type MiddlewareFn } from 'grammy'

/** `ctx.billing`, as a grammY context flavor: `new Bot<Context & BillingFlavor>(token)`. */
export interface BillingFlavor {
  billing: Billing
}

/** grammY's own context with `ctx.billing`, for a bot that has no other flavor. */
export type EStarsContext = Context & BillingFlavor

/** The core's view of a grammY context. */
function channelOf(ctx: Context): BotChannel {
  return {
    update: ctx.update,
    botId: ctx.me?.id,
    from: ctx.from,
    chatId: ctx.chat?.id,
    answerPreCheckoutQuery: (ok, errorMessage) => ctx.answerPreCheckoutQuery(ok, errorMessage),
    sendMessage: (chatId, text, markup) =>
      ctx.api.sendMessage(chatId, text, markup ? { reply_markup: markup } : {}),
    sendInvoice: ({ chat_id, title, description, payload, currency, prices, ...other }) =>
      ctx.api.sendInvoice(chat_id, title, description, payload, currency, prices, other),
  }
}

/**
 * e-Stars for a grammY bot: answers pre-checkout queries through `checkout.precheck` (refusing
 * politely if e-Stars is slow), records `successful_payment` and `refunded_payment` exactly
 * once, adds `ctx.billing` to every update, and handles `/paysupport`.
 *
 * `bot.use(eStars({ client }))` before your own handlers.
 */
export function eStars<C extends EStarsContext = EStarsContext>(
  options: EStarsOptions,
): Composer<C> {
  const core = createEStarsCore(options)
  const composer = new Composer<C>()
  composer.use(async (ctx, next) => {
    const channel = channelOf(ctx)
    ctx.billing = core.billingFor(channel)
    if ((await core.handle(channel, ctx.billing)) === 'next') await next()
  })
  if (core.paySupport)
    composer.command('paysupport', paySupportHandler<C>(core.paySupport, core.logger))
  return composer
}

/** The `/paysupport` answer, for a bot that registers the command itself (`paySupport: false`). */
export function paySupportHandler<C extends EStarsContext = EStarsContext>(
  options: PaySupportOptions,
  logger: Logger,
): MiddlewareFn<C> {
  return (ctx) => answerPaySupport(channelOf(ctx), ctx.billing.client, options, logger)
}
