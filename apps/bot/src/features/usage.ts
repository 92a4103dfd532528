import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'
import { fitText, shortDate, TELEGRAM_LIMITS, WORDS } from '../wording.ts'

/** Ledger lines are the console's sentences; one line of /usage is cut cleanly past this. */
export const USAGE_LINE_CHARS = 300

/** Actors the timeline names in words of its own; anyone else is a person at the operator's. */
const NAMED_ACTORS: Array<[prefix: string, name: string]> = [
  ['api-key:', 'the bot'],
  ['system', 'the system'],
  ['telegram', 'Telegram'],
]

/**
 * The operator who did something, as the timeline names them ("alice" for
 * `operator:alice@example.com`, or the actor itself), replaced by "support": an end user never
 * sees who at the operator's it was.
 */
export function asEndUserReads(entry: { actor: string; text: string }): string {
  if (NAMED_ACTORS.some(([prefix]) => entry.actor.startsWith(prefix))) return entry.text
  const name = entry.actor.startsWith('operator:')
    ? (entry.actor.slice('operator:'.length).split('@')[0] ?? '')
    : entry.actor
  return name ? entry.text.replaceAll(`by ${name}`, `by ${WORDS.usage.operator}`) : entry.text
}

/** /usage: the latest ledger lines, in the same plain words the operator console uses. */
export const usageFeature = new Composer<BotContext>()

usageFeature.command('usage', async (ctx) => {
  const telegramUserId = await ctx.billing.ready()
  const page = await ctx.billing.client.ledger.timeline.query({ telegramUserId, limit: 50 })
  // A hold and its release net to nothing; the settle line says what was spent.
  const entries = page.entries.filter((e) => e.kind !== 'hold' && e.kind !== 'release').slice(0, 10)
  if (entries.length === 0) return ctx.reply(WORDS.usage.nothing)
  const lines = entries.map(
    (e) => `${shortDate(e.createdAt)} · ${fitText(asEndUserReads(e), USAGE_LINE_CHARS)}`,
  )
  // Ten lines of 300 fit in 4,096; the cut stays as a guard if the limits above change.
  await ctx.reply(fitText(`${WORDS.usage.title}\n${lines.join('\n')}`, TELEGRAM_LIMITS.message))
})
