import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'
import { formatCount, whenResets } from '../wording.ts'

/** /start: who the bot is, what is free, what costs credits, and the balance. */
export const startFeature = new Composer<BotContext>()

startFeature.start(async (ctx) => {
  const [balance, tokens, image] = await Promise.all([
    ctx.billing.balance(),
    ctx.billing.check(ctx.features.tokens, 1),
    ctx.billing.check(ctx.features.image, 1),
  ])
  const free = tokens.freeAllowance
  const lines = [
    `Welcome, ${ctx.from.first_name}! I am an AI assistant that runs on credits, paid with Telegram Stars.`,
    '',
    free
      ? `• Just send me a message to ask anything. ${formatCount(free.limit)} tokens of answers are free ${free.period === 'day' ? 'every day' : `every ${free.period}`}; ${formatCount(free.remaining)} left${free.remaining < free.limit ? `, back ${whenResets(free.resetsAt)}` : ''}.`
      : '• Just send me a message to ask anything; answers are metered by tokens.',
    `• /imagine <what> draws a picture (${formatCount(image.costCredits)} credits${image.quota ? `, up to ${image.quota.limit} a day` : ''}).`,
    '• /buy tops up credits, /plans shows Pro and the monthly plan.',
    '• /balance, /usage and /help any time.',
    '',
    `Your balance: ${formatCount(balance.available)} credits.`,
  ]
  await ctx.reply(lines.join('\n'))
})
