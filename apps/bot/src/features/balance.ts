import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'
import { formatCount, periodWord, until, whenResets } from '../wording.ts'

/** /balance: credits, held, debt, what is unlocked, and the limits left with their reset time. */
export const balanceFeature = new Composer<BotContext>()

balanceFeature.command('balance', async (ctx) => {
  const [balance, entitlements, tokens, image] = await Promise.all([
    ctx.billing.balance(),
    ctx.billing.entitlements(),
    ctx.billing.check(ctx.features.tokens, 1),
    ctx.billing.check(ctx.features.image, 1),
  ])
  const lines = [`Balance: ${formatCount(balance.available)} credits.`]
  if (balance.held > 0)
    lines.push(`Held for answers in progress: ${formatCount(balance.held)} credits.`)
  if (balance.debt > 0)
    lines.push(
      `Owed from a refund: ${formatCount(balance.debt)} credits (taken from your next top-up).`,
    )
  for (const access of entitlements.access)
    lines.push(
      `${access.featureKey === ctx.features.pro ? 'Pro' : access.featureKey}: ${until(access.until)}.`,
    )
  const free = tokens.freeAllowance
  if (free)
    lines.push(
      `Free answers: ${formatCount(free.remaining)} of ${formatCount(free.limit)} tokens left ${periodWord(free.period)}, back ${whenResets(free.resetsAt)}.`,
    )
  if (image.quota)
    lines.push(
      `Images: ${image.quota.remaining} of ${image.quota.limit} left ${periodWord(image.quota.period)}, resets ${whenResets(image.quota.resetsAt)}.`,
    )
  lines.push('', 'Top up: /buy · History: /usage')
  await ctx.reply(lines.join('\n'))
})
