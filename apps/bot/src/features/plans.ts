import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'
import { buyButtons } from '../on-sale.ts'
import { WORDS } from '../wording.ts'

/** /plans: what the unlocks and the subscription give, with buttons to buy them. */
export const plansFeature = new Composer<BotContext>()

plansFeature.command('plans', async (ctx) => {
  const products = (await ctx.catalog.products()).filter((p) => p.kind !== 'pack')
  if (products.length === 0) return ctx.reply(WORDS.plans.none)
  await ctx.reply(WORDS.plans.list(products.map(WORDS.plans.line)), buyButtons(products))
})
