import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'
import { buyButtons } from '../on-sale.ts'
import { explainRefusal } from '../refusals.ts'
import { WORDS } from '../wording.ts'

/** /buy: packs and plans as buttons; a button (or `/buy <key>`) sends the invoice. */
export const buyFeature = new Composer<BotContext>()

buyFeature.command('buy', async (ctx) => {
  const key = ctx.payload.trim()
  if (key) return sendInvoiceFor(ctx, key)
  const products = await ctx.catalog.products()
  if (products.length === 0) return ctx.reply(WORDS.buy.nothingOnSale)
  await ctx.reply(WORDS.buy.menu, buyButtons(products))
})

buyFeature.action(/^buy:(.+)$/, async (ctx) => {
  await ctx.answerCbQuery(WORDS.buy.sending)
  await sendInvoiceFor(ctx, ctx.match[1] ?? '')
})

async function sendInvoiceFor(ctx: BotContext, key: string) {
  const product = await ctx.catalog.find(key)
  if (!product) return ctx.reply(WORDS.buy.unknown(key))
  try {
    await ctx.billing.sendInvoice(product.key)
  } catch (error) {
    if (!(await explainRefusal(ctx, error, product.title))) throw error
  }
}
