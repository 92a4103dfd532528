import type { BillingEvent, Logger } from '@e-stars/telegraf'
import { TelegramError } from 'telegraf'
import { describe, expect, it } from 'vitest'
import type { ReferenceBot } from '../src/bot.ts'
import { handleNudge } from '../src/nudges.ts'

function fakes(send: () => Promise<unknown>) {
  const sent: unknown[] = []
  const lines: { level: string; message: string }[] = []
  const log = (level: string) => (_obj: unknown, message?: string) => {
    lines.push({ level, message: message ?? '' })
  }
  const logger = { info: log('info'), warn: log('warn'), error: log('error') } as unknown as Logger
  const reference = {
    bot: {
      telegram: {
        sendMessage: async (...args: unknown[]) => {
          sent.push(args)
          return send()
        },
      },
    },
  } as unknown as ReferenceBot
  return { sent, lines, logger, reference }
}

const event = (type: string, payload: Record<string, unknown> = {}): BillingEvent =>
  ({ id: '7', type, telegramUserId: 2_000_001, payload }) as unknown as BillingEvent

describe('nudges', () => {
  it('says "nudge sent" only for an event it nudges about', async () => {
    const f = fakes(async () => ({}))
    await handleNudge(f.reference, event('margin.customer_unprofitable'), f.logger)
    expect(f.sent).toEqual([])
    expect(f.lines).toEqual([])
    await handleNudge(
      f.reference,
      event('free_allowance.exhausted', { period: 'day', resetsAt: null }),
      f.logger,
    )
    expect(f.sent).toHaveLength(1)
    expect(f.lines).toEqual([{ level: 'info', message: 'nudge sent' }])
  })

  it('skips a user who never started the bot (403) and rethrows anything else', async () => {
    const forbidden = new TelegramError({
      error_code: 403,
      description: "Forbidden: bot can't initiate conversation with a user",
    })
    const f = fakes(() => Promise.reject(forbidden))
    const exhausted = event('free_allowance.exhausted', { period: 'day', resetsAt: null })
    await expect(handleNudge(f.reference, exhausted, f.logger)).resolves.toBeUndefined()
    expect(f.lines.map((l) => l.message)).toEqual([
      'nudge skipped: the user has not started the bot or has blocked it',
    ])
    const down = new TelegramError({ error_code: 502, description: 'Bad Gateway' })
    const g = fakes(() => Promise.reject(down))
    await expect(handleNudge(g.reference, exhausted, g.logger)).rejects.toBe(down)
  })
})
