import { randomUUID } from 'node:crypto'
import { seedDemoFeatures } from '@e-stars/billing'
import { TRPCError } from '@trpc/server'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { botCaller, useDatabase } from './fixtures.ts'

const t = useDatabase()
const k = () => randomUUID()

/** The refusal of `call`: its code, the fields its zod error names, and its message. */
async function refusal(call: Promise<unknown>) {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TRPCError)
  const trpc = error as TRPCError
  const fields =
    trpc.cause instanceof z.ZodError ? Object.keys(z.flattenError(trpc.cause).fieldErrors) : []
  return { code: trpc.code, fields, message: trpc.message }
}

async function demoBot() {
  const bot = await botCaller(t.db)
  await seedDemoFeatures(t.db, bot.project.id)
  return bot
}

const usage = { provider: 'openai', model: 'gpt-4o-mini', inputTokens: 50, outputTokens: 6000 }

describe('overage over tRPC (issue 19)', () => {
  it('6,050 tokens on the free 5,000 and 0 credits: capped reserve, the shortfall reported with its entry', async () => {
    const { caller } = await demoBot()
    const r = await caller.usage.reserveFeature({
      telegramUserId: 1,
      feature: 'ai.tokens',
      quantity: 6_000,
      minQuantity: 500,
      usage: { ...usage, costMicros: 10 },
      idempotencyKey: k(),
    })
    expect(r).toMatchObject({ overagePolicy: 'cap', quantity: 5_000, maxQuantity: 5_000 })
    const s = await caller.usage.settleFeature({
      reservationId: r.reservationId,
      quantity: 6_050,
      usage: { ...usage, costMicros: 900 },
      idempotencyKey: k(),
    })
    expect(s).toMatchObject({
      shortfall: 11,
      overage: { policy: 'cap', units: 1_050, credits: 11 },
    })
    expect(s.entryId).toBe(s.overage?.entryId)
    const ledger = await caller.ledger.list({ telegramUserId: 1 })
    expect(ledger.entries.map((e) => e.kind)).toEqual(['shortfall'])
  })

  it('bad input is BAD_REQUEST naming the field', async () => {
    const { caller } = await demoBot()
    const reserve = (extra: Record<string, unknown>) =>
      refusal(
        caller.usage.reserveFeature({
          telegramUserId: 1,
          feature: 'ai.tokens',
          quantity: 100,
          idempotencyKey: k(),
          ...extra,
        } as never),
      )
    expect(await reserve({ minQuantity: 0 })).toMatchObject({
      code: 'BAD_REQUEST',
      fields: ['minQuantity'],
    })
    expect(await reserve({ minQuantity: 200 })).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('minQuantity'),
    })
    const bad = await reserve({ usage: { ...usage, outputTokens: -1 } })
    expect(bad.code).toBe('BAD_REQUEST')
    expect(bad.fields).toEqual(['usage'])
    expect(await reserve({ usage: { ...usage, currency: 'EUR' } })).toMatchObject({
      code: 'BAD_REQUEST',
    })
  })

  it('another project cannot settle the reservation, and nothing is written for it', async () => {
    const a = await demoBot()
    const b = await demoBot()
    await a.caller.credits.grant({
      telegramUserId: 2,
      amount: 5,
      reason: 'pack',
      idempotencyKey: k(),
    })
    await a.caller.usage.consumeFeature({
      telegramUserId: 2,
      feature: 'ai.tokens',
      quantity: 5_000,
      idempotencyKey: k(),
    })
    const r = await a.caller.usage.reserveFeature({
      telegramUserId: 2,
      feature: 'ai.tokens',
      quantity: 500,
      idempotencyKey: k(),
    })
    const other = await refusal(
      b.caller.usage.settleFeature({
        reservationId: r.reservationId,
        quantity: 900,
        idempotencyKey: k(),
      }),
    )
    expect(other.code).toBe('NOT_FOUND')
    expect(await a.caller.credits.balance({ telegramUserId: 2 })).toMatchObject({
      held: 5,
      debt: 0,
    })
  })
})
