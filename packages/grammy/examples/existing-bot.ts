import { createEStarsClient, isInsufficientCredits } from '@e-stars/client'
import { type BillingFlavor, eStars } from '@e-stars/grammy'
import { Bot, type Context } from 'grammy'

// Your model: anything that returns the text and the tokens it used.
declare function askYourModel(prompt: string): Promise<{ text: string; tokens: number }>

const bot = new Bot<Context & BillingFlavor>(process.env.TELEGRAM_BOT_TOKEN ?? '')
const client = createEStarsClient({
  url: 'http://127.0.0.1:3000',
  apiKey: process.env.ESTARS_API_KEY ?? '',
})
bot.use(eStars({ client })) // pre-checkout, payments, refunds, /paysupport and ctx.billing

bot.command('buy', (ctx) => ctx.billing.sendInvoice('pack_s'))

bot.command('balance', async (ctx) => {
  const { available } = await ctx.billing.balance()
  await ctx.reply(`You have ${available} credits.`)
})

bot.on('message:text', async (ctx) => {
  try {
    // Reserve an estimate, run the model, settle what it really used (released if it throws).
    const { result } = await ctx.billing.meter('ai.tokens', 2000, async () => {
      const answer = await askYourModel(ctx.message.text)
      return { result: answer.text, quantity: answer.tokens }
    })
    await ctx.reply(result)
  } catch (error) {
    if (!isInsufficientCredits(error)) throw error
    await ctx.reply('Not enough credits for that. One tap to top up:')
    await ctx.billing.sendInvoice('pack_s')
  }
})

bot.start()
