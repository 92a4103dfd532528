import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'
import { shortDate } from '../wording.ts'

/** /usage: the latest ledger lines, in the same plain words the operator console uses. */
export const usageFeature = new Composer<BotContext>()

usageFeature.command('usage', async (ctx) => {
  const telegramUserId = await ctx.billing.ready()
  const page = await ctx.billing.client.ledger.timeline.query({ telegramUserId, limit: 50 })
  // A hold and its release net to nothing; the settle line says what was spent.
  const entries = page.entries.filter((e) => e.kind !== 'hold' && e.kind !== 'release').slice(0, 10)
  if (entries.length === 0) return ctx.reply('Nothing yet. Send me a question, or /buy credits.')
  const lines = entries.map((e) => `${shortDate(e.createdAt)} · ${e.text}`)
  await ctx.reply(`Your latest activity (newest first):\n${lines.join('\n')}`)
})
