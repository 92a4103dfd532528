import { Composer, Markup } from 'telegraf'
import { productButtonText } from '../catalog.ts'
import type { BotContext } from '../context.ts'

/** /plans: what the unlocks and the subscription give, with buttons to buy them. */
export const plansFeature = new Composer<BotContext>()

plansFeature.command('plans', async (ctx) => {
  const products = (await ctx.catalog.products()).filter((p) => p.kind !== 'pack')
  if (products.length === 0)
    return ctx.reply('There are no plans right now; /buy has credit packs.')
  const lines = products.map(
    (p) =>
      `• ${p.title} — ${p.priceStars} ⭐${p.kind === 'subscription' ? ' a month, renews by itself, cancel any time' : ''}: ${p.description}.`,
  )
  await ctx.reply(
    `Plans:\n${lines.join('\n')}\n\nCredit packs are on /buy.`,
    Markup.inlineKeyboard(
      products.map((p) => [Markup.button.callback(productButtonText(p), `buy:${p.key}`)]),
    ),
  )
})
