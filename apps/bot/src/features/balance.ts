import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'
import { WORDS } from '../wording.ts'

/** /balance: credits, held, debt, what is unlocked, and the limits left with their reset time. */
export const balanceFeature = new Composer<BotContext>()

balanceFeature.command('balance', async (ctx) => {
  const [balance, entitlements, tokens, image] = await Promise.all([
    ctx.billing.balance(),
    ctx.billing.entitlements(),
    ctx.billing.check(ctx.features.tokens, 1),
    ctx.billing.check(ctx.features.image, 1),
  ])
  const words = WORDS.balance
  const lines = [words.available(balance.available)]
  if (balance.held > 0) lines.push(words.held(balance.held))
  if (balance.debt > 0) lines.push(words.debt(balance.debt))
  for (const access of entitlements.access)
    lines.push(
      words.access(
        access.featureKey === ctx.features.pro ? 'Pro' : access.featureKey,
        access.until,
      ),
    )
  if (tokens.freeAllowance) lines.push(words.free(tokens.freeAllowance))
  if (image.quota) lines.push(words.images(image.quota))
  lines.push('', words.footer)
  await ctx.reply(lines.join('\n'))
})
