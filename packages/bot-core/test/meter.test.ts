import type { EStarsClient } from '@e-stars/client'
import { describe, expect, it } from 'vitest'
import { type BotChannel, createEStarsCore } from '../src/adapter.ts'
import { memoryLogger } from '../testing/memory-logger.ts'

const USER = { id: 42, is_bot: false, first_name: 'Alice' }

/** A client whose procedures are the given functions; every call is recorded. */
function fakeClient(procedures: Record<string, (input: unknown) => Promise<unknown>>) {
  const calls: { path: string; input: unknown }[] = []
  const client = new Proxy(
    {},
    {
      get: (_, area: string) =>
        new Proxy(
          {},
          {
            get: (_, name: string) => {
              const call = (input: unknown) => {
                const path = `${area}.${name}`
                calls.push({ path, input })
                const run = procedures[path]
                if (!run) throw new Error(`unexpected call to ${path}`)
                return run(input)
              }
              return { mutate: call, query: call }
            },
          },
        ),
    },
  ) as EStarsClient
  return { client, calls }
}

const channel: BotChannel = {
  update: {
    update_id: 7,
    message: { message_id: 1, date: 0, chat: { id: 42, type: 'private' }, from: USER, text: 'hi' },
  },
  from: USER,
  chatId: 42,
  answerPreCheckoutQuery: async () => {},
  sendMessage: async () => ({ message_id: 2, date: 0 }),
} as unknown as BotChannel

const usage = { provider: 'openai', model: 'gpt-4o-mini', inputTokens: 40, outputTokens: 260 }

describe('meter() and the overage policy (issue 19)', () => {
  it('passes minEstimate and the usage records on, hands the work maxQuantity, and logs a shortfall', async () => {
    const { client, calls } = fakeClient({
      'customers.upsert': async () => ({}),
      'usage.reserveFeature': async () => ({
        reservationId: 'r1',
        quantity: 300,
        maxQuantity: 300,
      }),
      'usage.settleFeature': async () => ({
        shortfall: 2,
        overage: {
          policy: 'debt',
          units: 150,
          credits: 2,
          paid: 0,
          debt: 2,
          absorbed: 0,
          entryId: 9,
        },
      }),
    })
    const logger = memoryLogger()
    const core = createEStarsCore({ client, logger })
    const billing = core.billingFor(channel)
    let seenMax: number | null = null
    const outcome = await billing.meter(
      'ai.tokens',
      1000,
      async (reservation) => {
        seenMax = reservation.maxQuantity
        return { result: 'answer', quantity: 450, usage }
      },
      { minEstimate: 100, usage: { ...usage, outputTokens: 960 } },
    )
    expect(seenMax).toBe(300)
    expect(outcome.settlement?.overage?.debt).toBe(2)
    const reserve = calls.find((c) => c.path === 'usage.reserveFeature')?.input
    expect(reserve).toMatchObject({
      quantity: 1000,
      minQuantity: 100,
      usage: { outputTokens: 960 },
    })
    const settle = calls.find((c) => c.path === 'usage.settleFeature')?.input
    expect(settle).toMatchObject({ reservationId: 'r1', quantity: 450, usage })
    const line = logger.lines.find((l) => l.msg?.includes('shortfall is on the ledger'))
    expect(line).toMatchObject({
      level: 'warn',
      obj: { policy: 'debt', unpaidCredits: 2, entryId: 9 },
    })
  })

  it('says nothing when the work stayed within what was paid', async () => {
    const { client } = fakeClient({
      'customers.upsert': async () => ({}),
      'usage.reserveFeature': async () => ({
        reservationId: 'r2',
        quantity: 100,
        maxQuantity: null,
      }),
      'usage.settleFeature': async () => ({ shortfall: 0, overage: null }),
    })
    const logger = memoryLogger()
    const billing = createEStarsCore({ client, logger }).billingFor(channel)
    await billing.meter('ai.tokens', 100, async () => ({ result: 1, quantity: 90 }))
    expect(logger.lines.some((l) => l.msg?.includes('shortfall'))).toBe(false)
  })
})
