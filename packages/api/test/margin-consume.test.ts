import { randomBytes } from 'node:crypto'
import { addCostCap, grantCredits, setModelPrice } from '@e-stars/billing'
import { ledgerEntries } from '@e-stars/db'
import { TRPCError } from '@trpc/server'
import { beforeAll, describe, expect, it } from 'vitest'
import { botCaller, useDatabase } from './fixtures.ts'

/** Issue 14: the credit-level consume, consumeMany and settle carry a usage record, like the feature calls. */
const t = useDatabase()
const USER = 7_001
const key = () => randomBytes(8).toString('hex')
const call = { provider: 'acme', model: 'answer-1', inputTokens: 100_000, outputTokens: 50_000 }

let bot: Awaited<ReturnType<typeof botCaller>>

async function entry(entryId: number) {
  const row = (await t.db.select().from(ledgerEntries)).find(
    (e) => e.projectId === bot.project.id && Number(e.id) === entryId,
  )
  return row!
}

async function errorOf(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TRPCError)
  return error as TRPCError
}

beforeAll(async () => {
  bot = await botCaller(t.db, 'metered credits')
  // 2 USD per million input tokens, 8 per million output: the call costs 0.2 + 0.4 = 0.6 USD.
  await setModelPrice(t.db, {
    projectId: bot.project.id,
    provider: 'acme',
    model: 'answer-1',
    inputPerMillionMicros: 2_000_000,
    outputPerMillionMicros: 8_000_000,
    updatedBy: 'test',
  })
  await grantCredits(t.db, {
    projectId: bot.project.id,
    telegramUserId: USER,
    amount: 1_000,
    reason: 'pack',
    source: 'manual',
    actor: 'test',
    idempotencyKey: key(),
    valueMicros: 10_000_000,
  })
})

describe('credit-level usage with a usage record', () => {
  it('consume: the price book prices the entry; its revenue is the credits burnt', async () => {
    const r = await bot.caller.usage.consume({
      telegramUserId: USER,
      amount: 10,
      reason: 'answer',
      idempotencyKey: key(),
      usage: call,
    })
    const row = await entry(r.entryId)
    expect(row).toMatchObject({ kind: 'consume', costMicros: 600_000, revenueMicros: 100_000 })
    expect(row.usage).toMatchObject({ provider: 'acme', model: 'answer-1', inputTokens: 100_000 })
  })

  it('consume without usage stays as it was: no cost', async () => {
    const r = await bot.caller.usage.consume({
      telegramUserId: USER,
      amount: 1,
      reason: 'plain',
      idempotencyKey: key(),
    })
    expect(await entry(r.entryId)).toMatchObject({ costMicros: null, usage: null })
  })

  it("consumeMany: each item's usage costs its own entry; the provider's own cost wins", async () => {
    const many = await bot.caller.usage.consumeMany({
      items: [
        { telegramUserId: USER, amount: 2, reason: 'a', idempotencyKey: key(), usage: call },
        {
          telegramUserId: USER,
          amount: 2,
          reason: 'b',
          idempotencyKey: key(),
          usage: { ...call, costMicros: 1_234 },
        },
      ],
    })
    const costs = []
    for (const item of many) {
      expect(item.ok).toBe(true)
      if (item.ok) costs.push((await entry(item.result.entryId)).costMicros)
    }
    expect(costs).toEqual([600_000, 1_234])
  })

  it('settle: the usage record prices the settle entry', async () => {
    const hold = await bot.caller.usage.reserve({
      telegramUserId: USER,
      amount: 20,
      reason: 'answer',
      idempotencyKey: key(),
    })
    const s = await bot.caller.usage.settle({
      holdId: hold.holdId,
      amount: 15,
      idempotencyKey: key(),
      usage: { ...call, outputTokens: 0 },
    })
    expect(await entry(s.entryId)).toMatchObject({ kind: 'settle', costMicros: 200_000 })
  })

  it('a bad usage record is BAD_REQUEST naming the field, nothing written', async () => {
    const before = (await t.db.select().from(ledgerEntries)).length
    for (const [bad, field] of [
      [{ inputTokens: -1 }, 'inputTokens'],
      [{ costMicros: 0.5 }, 'costMicros'],
      [{ currency: 'EUR' }, 'currency'],
    ] as const) {
      const error = await errorOf(
        bot.caller.usage.consume({
          telegramUserId: USER,
          amount: 1,
          reason: 'bad',
          idempotencyKey: key(),
          usage: { ...call, ...bad } as typeof call,
        }),
      )
      expect(error.code).toBe('BAD_REQUEST')
      expect(error.message).toContain(field)
    }
    expect((await t.db.select().from(ledgerEntries)).length).toBe(before)
  })

  it('a cost cap stops a credit-level consume whose cost would pass it (COST_CAP_REACHED)', async () => {
    await addCostCap(t.db, {
      projectId: bot.project.id,
      scope: 'project',
      period: 'day',
      capMicros: 2_001_234,
    })
    // Spent so far today: 0.6 + 0.6 + 0.001234 + 0.2 USD; one more 0.6 reaches the cap exactly,
    // the next would pass it.
    const consume = () =>
      bot.caller.usage.consume({
        telegramUserId: USER,
        amount: 1,
        reason: 'answer',
        idempotencyKey: key(),
        usage: call,
      })
    await consume()
    const error = await errorOf(consume())
    expect(error.code).toBe('PRECONDITION_FAILED')
    expect(error.message).toMatch(/cap/i)
  })
})
