import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'
import { WORDS } from '../wording.ts'

/** /start: who the bot is, what is free, what costs credits, and the balance. */
export const startFeature = new Composer<BotContext>()

startFeature.start(async (ctx) => {
  const [balance, tokens, image] = await Promise.all([
    ctx.billing.balance(),
    ctx.billing.check(ctx.features.tokens, 1),
    ctx.billing.check(ctx.features.image, 1),
  ])
  const free = tokens.freeAllowance
  const words = WORDS.start
  const lines = [
    words.welcome(ctx.from.first_name),
    '',
    free ? words.askFree(free) : words.askMetered,
    words.imagine(image.costCredits, image.quota ? image.quota.limit : null),
    words.buy,
    words.more,
    '',
    words.balance(balance.available),
  ]
  await ctx.reply(lines.join('\n'))
})
