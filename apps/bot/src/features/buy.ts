import { Composer, Markup } from 'telegraf'
import { productButtonText } from '../catalog.ts'
import type { BotContext } from '../context.ts'
import { explainRefusal } from '../refusals.ts'

/** /buy: packs and plans as buttons; a button (or `/buy <key>`) sends the invoice. */
export const buyFeature = new Composer<BotContext>()

buyFeature.command('buy', async (ctx) => {
  const key = ctx.payload.trim()
  if (key) return sendInvoiceFor(ctx, key)
  const products = await ctx.catalog.products()
  if (products.length === 0) return ctx.reply('Nothing is on sale right now.')
  await ctx.reply(
    'Choose a credit pack or a plan. You pay with Telegram Stars; credits arrive at once.',
    Markup.inlineKeyboard(
      products.map((p) => [Markup.button.callback(productButtonText(p), `buy:${p.key}`)]),
    ),
  )
})

buyFeature.action(/^buy:(.+)$/, async (ctx) => {
  await ctx.answerCbQuery('Sending the invoice…')
  await sendInvoiceFor(ctx, ctx.match[1] ?? '')
})

async function sendInvoiceFor(ctx: BotContext, key: string) {
  const product = await ctx.catalog.find(key)
  if (!product) return ctx.reply(`There is no "${key}" for sale. /buy shows what there is.`)
  try {
    await ctx.billing.sendInvoice(product.key)
  } catch (error) {
    if (!(await explainRefusal(ctx, error, product.title))) throw error
  }
}
