// Deliberate type errors: the consumer test requires exactly these (line, code) pairs from tsc,
// which shows the published types are precise (a loose `any` would let them all through).
import { type Balance, createEStarsClient, isInsufficientCredits } from '@e-stars/client'
import { type EStarsContext, eStars } from '@e-stars/telegraf'
import { Telegraf } from 'telegraf'

const client = createEStarsClient({ url: 'http://127.0.0.1:3000', apiKey: 'esk_test' })
const bot = new Telegraf<EStarsContext>('123:token')

// A user id is a number.
await client.credits.balance.query({ telegramUserId: '42' }) // expect-error TS2322
// `available` is a number, and there is no `credits` on a balance.
const balance: Balance = await client.credits.balance.query({ telegramUserId: 42 })
const label: string = balance.available // expect-error TS2322
balance.credits // expect-error TS2339
// No such procedure.
await client.credits.burn.mutate({ telegramUserId: 42 }) // expect-error TS2339
// The middleware's option is `client`.
bot.use(eStars({ cilent: client })) // expect-error TS2561
// ctx.billing.consume takes a quantity as a number.
bot.command('x', (ctx) => ctx.billing.consume('image', '1')) // expect-error TS2345
bot.catch((error) => {
  // The facts of a refusal are typed after the guard: `required` is a number.
  if (isInsufficientCredits(error)) console.log(error.data.billing.required.toUpperCase()) // expect-error TS2339
})
console.log(label)
