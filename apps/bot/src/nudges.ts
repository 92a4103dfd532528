import type { EStarsClient } from '@e-stars/api/client'
import { type BillingEvent, type EventWatcher, type Logger, watchEvents } from '@e-stars/telegraf'
import type { ReferenceBot } from './bot.ts'
import { buyButtons } from './on-sale.ts'
import { toldKey } from './refusals.ts'
import { fitText, WORDS } from './wording.ts'

/**
 * Low-balance and limit nudges from `events.poll`. The engine writes one event per crossing
 * (a low balance re-arms only after a top-up), so each nudge goes out once; a limit the user
 * was just told about by a refusal is not repeated.
 */
export function startNudges(
  reference: ReferenceBot,
  options: { client: EStarsClient; logger: Logger; intervalMs?: number },
): EventWatcher {
  return watchEvents({
    client: options.client,
    logger: options.logger,
    ...(options.intervalMs ? { intervalMs: options.intervalMs } : {}),
    handle: (event) => handleNudge(reference, event, options.logger),
  })
}

/** One event's nudge; a user who never started the bot, or blocked it, is skipped, not a failure. */
export async function handleNudge(
  reference: ReferenceBot,
  event: BillingEvent,
  logger: Logger,
): Promise<void> {
  try {
    await nudge(reference, event, logger)
  } catch (error) {
    if ((error as { response?: { error_code?: number } }).response?.error_code !== 403) throw error
    logger.info(
      { eventId: event.id, type: event.type, telegramUserId: event.telegramUserId },
      'nudge skipped: the user has not started the bot or has blocked it',
    )
  }
}

async function nudge(reference: ReferenceBot, event: BillingEvent, logger: Logger) {
  const userId = event.telegramUserId
  if (userId === null) return
  const p = event.payload
  const telegram = reference.bot.telegram
  if (event.type === 'balance.low') {
    const packs = (await reference.catalog.products()).filter((x) => x.kind === 'pack')
    await telegram.sendMessage(
      userId,
      WORDS.nudges.lowBalance(Number(p.available)),
      buyButtons(packs),
    )
  } else if (event.type === 'free_allowance.exhausted') {
    await telegram.sendMessage(
      userId,
      WORDS.nudges.freeExhausted(String(p.period), (p.resetsAt as string | null) ?? null),
    )
  } else if (event.type === 'quota.exhausted') {
    const feature = String(p.feature)
    if (reference.told.delete(toldKey(userId, feature, p.resetsAt))) return
    const what = feature === reference.features.image ? WORDS.refusals.images : feature
    await telegram.sendMessage(
      userId,
      fitText(
        WORDS.nudges.quotaExhausted(
          Number(p.limit),
          what,
          String(p.period),
          (p.resetsAt as string | null) ?? null,
        ),
      ),
    )
  } else return
  logger.info({ eventId: event.id, type: event.type, telegramUserId: userId }, 'nudge sent')
}
