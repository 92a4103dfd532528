import { costCaps, rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import {
  CostCapReached,
  consumeFeature,
  defineFeature,
  getBalance,
  InvalidInput,
  reserveFeature,
  setQuota,
  settleFeature,
  verifyLedger,
} from '../src/index.ts'
import type { UsageRecord } from '../src/margin/usage.ts'
import { createProject, fund, key, ledgerMismatches, useDatabase } from './fixtures.ts'

const t = useDatabase()

const usage = (outputTokens: number, costMicros: number): UsageRecord => ({
  provider: 'openai',
  model: 'gpt-4o-mini',
  inputTokens: 50,
  outputTokens,
  costMicros,
})

async function tokensProject(freeTokens = 0) {
  const p = await createProject(t.db)
  await defineFeature(t.db, {
    projectId: p,
    key: 'ai.tokens',
    name: 'AI',
    kind: 'metered',
    perUnits: 100,
  })
  if (freeTokens > 0) {
    await setQuota(t.db, {
      projectId: p,
      featureKey: 'ai.tokens',
      scope: 'project',
      limit: freeTokens,
      period: 'day',
      free: true,
    })
  }
  return p
}

async function entriesOf(projectId: string) {
  return rows<{ kind: string; amount: number; cost_micros: number | null }>(
    t.db,
    sql`select kind, amount::int, cost_micros::int from ledger_entries where project_id = ${projectId} order by id`,
  )
}

async function rejection(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).not.toBeNull()
  return error as Error
}

describe('the feature path carries the usage record (issue 14)', () => {
  it('settle puts the usage cost on its settle entry, once, beside the shortfall entry', async () => {
    const p = await tokensProject()
    await fund(t.db, p, 1, 5)
    const r = await reserveFeature(t.db, {
      projectId: p,
      telegramUserId: 1,
      feature: 'ai.tokens',
      quantity: 500,
      actor: 't',
      idempotencyKey: key(),
    })
    await settleFeature(t.db, {
      projectId: p,
      reservationId: r.reservationId,
      quantity: 800,
      usage: usage(750, 1234),
      actor: 't',
      idempotencyKey: key(),
    })
    const entries = await entriesOf(p)
    expect(entries.map((e) => [e.kind, e.cost_micros])).toEqual([
      ['grant', null],
      ['hold', null],
      ['settle', 1234],
      ['shortfall', null],
    ])
    expect(await ledgerMismatches(t.db)).toEqual([])
    expect((await verifyLedger(t.db, { projectId: p })).findings).toEqual([])
  })

  it('a settle the free allowance covered in full still writes its cost (a 0-credit entry)', async () => {
    const p = await tokensProject(5000)
    const r = await reserveFeature(t.db, {
      projectId: p,
      telegramUserId: 2,
      feature: 'ai.tokens',
      quantity: 1000,
      actor: 't',
      idempotencyKey: key(),
    })
    const s = await settleFeature(t.db, {
      projectId: p,
      reservationId: r.reservationId,
      quantity: 900,
      usage: usage(850, 777),
      actor: 't',
      idempotencyKey: key(),
    })
    expect(s).toMatchObject({ charged: 0, shortfall: 0, overage: null })
    expect(s.entryId).not.toBeNull()
    expect(await entriesOf(p)).toEqual([{ kind: 'consume', amount: 0, cost_micros: 777 }])
  })

  it('a free-only shortfall carries the usage cost on the shortfall entry', async () => {
    const p = await tokensProject(5000)
    const r = await reserveFeature(t.db, {
      projectId: p,
      telegramUserId: 3,
      feature: 'ai.tokens',
      quantity: 5000,
      actor: 't',
      idempotencyKey: key(),
    })
    await settleFeature(t.db, {
      projectId: p,
      reservationId: r.reservationId,
      quantity: 6050,
      usage: usage(6000, 999),
      actor: 't',
      idempotencyKey: key(),
    })
    expect(await entriesOf(p)).toEqual([{ kind: 'shortfall', amount: 0, cost_micros: 999 }])
  })

  it('consumeFeature carries the usage too, free or paid', async () => {
    const p = await tokensProject(100)
    await fund(t.db, p, 4, 5)
    const consume = (quantity: number, cost: number) =>
      consumeFeature(t.db, {
        projectId: p,
        telegramUserId: 4,
        feature: 'ai.tokens',
        quantity,
        usage: usage(quantity, cost),
        actor: 't',
        idempotencyKey: key(),
      })
    await consume(100, 11)
    await consume(200, 22)
    expect((await entriesOf(p)).slice(1)).toEqual([
      { kind: 'consume', amount: 0, cost_micros: 11 },
      { kind: 'consume', amount: -2, cost_micros: 22 },
    ])
  })

  it('bad usage is refused naming the field; nothing is written', async () => {
    const p = await tokensProject()
    await fund(t.db, p, 5, 5)
    const bad = { ...usage(10, 1), inputTokens: -1 }
    const r1 = await rejection(
      reserveFeature(t.db, {
        projectId: p,
        telegramUserId: 5,
        feature: 'ai.tokens',
        quantity: 100,
        usage: bad,
        actor: 't',
        idempotencyKey: key(),
      }),
    )
    expect(r1).toBeInstanceOf(InvalidInput)
    expect(r1).toMatchObject({ field: 'usage.inputTokens' })
    const r = await reserveFeature(t.db, {
      projectId: p,
      telegramUserId: 5,
      feature: 'ai.tokens',
      quantity: 100,
      actor: 't',
      idempotencyKey: key(),
    })
    const r2 = await rejection(
      settleFeature(t.db, {
        projectId: p,
        reservationId: r.reservationId,
        quantity: 100,
        usage: { ...usage(10, 1), outputTokens: 1.5 },
        actor: 't',
        idempotencyKey: key(),
      }),
    )
    expect(r2).toMatchObject({ field: 'usage.outputTokens' })
    expect(await getBalance(t.db, { projectId: p, telegramUserId: 5 })).toMatchObject({
      available: 4,
      held: 1,
    })
  })

  it('reserve checks the expected cost against the cost cap before holding anything', async () => {
    const p = await tokensProject()
    await fund(t.db, p, 6, 50)
    await t.db
      .insert(costCaps)
      .values({ projectId: p, scope: 'project', period: 'day', capMicros: 1000 })
    const refused = await rejection(
      reserveFeature(t.db, {
        projectId: p,
        telegramUserId: 6,
        feature: 'ai.tokens',
        quantity: 100,
        usage: usage(100, 1001),
        actor: 't',
        idempotencyKey: key(),
      }),
    )
    expect(refused).toBeInstanceOf(CostCapReached)
    expect(await getBalance(t.db, { projectId: p, telegramUserId: 6 })).toMatchObject({
      available: 50,
      held: 0,
    })
    // The refusal is told once per cap and period (webhooks: cost_cap.reached), not per call.
    await rejection(
      reserveFeature(t.db, {
        projectId: p,
        telegramUserId: 6,
        feature: 'ai.tokens',
        quantity: 100,
        usage: usage(100, 5000),
        actor: 't',
        idempotencyKey: key(),
      }),
    )
    const events = await rows<{ payload: Record<string, unknown> }>(
      t.db,
      sql`select payload from events where project_id = ${p} and type = 'cost_cap.reached'`,
    )
    expect(events.map((e) => e.payload)).toEqual([
      expect.objectContaining({
        scope: 'project',
        period: 'day',
        capMicros: 1000,
        requestedMicros: 1001,
        feature: 'ai.tokens',
      }),
    ])
    const ok = await reserveFeature(t.db, {
      projectId: p,
      telegramUserId: 6,
      feature: 'ai.tokens',
      quantity: 100,
      usage: usage(100, 1000),
      actor: 't',
      idempotencyKey: key(),
    })
    expect(ok.credits).toBe(1)
  })
})
