// The same bot on grammY: it installs @e-stars/client and @e-stars/grammy from their tarballs
// and nothing else of e-Stars. test/consumer.test.ts typechecks it (NodeNext and Bundler) and
// runs it against a live e-Stars server and the Telegram sandbox, like the Telegraf one.
import {
  type Balance,
  billingErrorOf,
  type ConsumeFeatureResult,
  createEStarsClient,
  isInsufficientCredits,
  isQuotaExceeded,
  type RouterOutputs,
} from '@e-stars/client'
import { type BillingFlavor, eStars } from '@e-stars/grammy'
import { Bot, type Context } from 'grammy'

function env(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is required`)
  return value
}

type Product = RouterOutputs['products']['list'][number]
/** A context with grammY's own parts and `ctx.billing`, as grammY flavors compose. */
type BotContext = Context & BillingFlavor

const client = createEStarsClient({ url: env('ESTARS_URL'), apiKey: env('ESTARS_API_KEY') })
const bot = new Bot<BotContext>(env('TELEGRAM_BOT_TOKEN'), {
  client: { apiRoot: env('TELEGRAM_API_ROOT') },
})
bot.use(eStars({ client }))

bot.command('buy', async (ctx) => {
  const products: Product[] = await client.products.list.query()
  const pack = products.find((p) => p.kind === 'pack')
  if (!pack) return ctx.reply('Nothing for sale yet.')
  await ctx.billing.sendInvoice(pack.key)
})

bot.command('balance', async (ctx) => {
  const balance: Balance = await ctx.billing.balance()
  await ctx.reply(`Balance: ${balance.available} credits`)
})

bot.command('image', async (ctx) => {
  try {
    const used: ConsumeFeatureResult = await ctx.billing.consume('image', 1)
    await ctx.reply(`Image ready: ${used.credits} credits, ${used.available} left`)
  } catch (error) {
    if (isInsufficientCredits(error)) {
      const { available, required } = error.data.billing
      await ctx.reply(`Not enough credits: ${available} of ${required}. Try /buy`)
    } else if (isQuotaExceeded(error)) {
      await ctx.reply(`Daily limit reached; it resets at ${error.data.billing.resetsAt}`)
    } else {
      await ctx.reply(`Refused: ${billingErrorOf(error)?.code ?? 'unexpected error'}`)
    }
  }
})

bot.catch((error) => console.error('bot error', error))
await bot.start({ onStart: () => console.log('bot ready') })
