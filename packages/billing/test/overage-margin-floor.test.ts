import { features, priceBook } from '@e-stars/db'
import { and, eq } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import {
  defineFeature,
  getBalance,
  grantCredits,
  MarginFloorBreached,
  reserveFeature,
} from '../src/index.ts'
import { createProject, key, useDatabase } from './fixtures.ts'

const t = useDatabase()

/** 1 credit per 100 tokens, a 50 % floor; the model costs 1 µUSD per input and 2 per output token. */
async function floorProject() {
  const p = await createProject(t.db)
  await defineFeature(t.db, {
    projectId: p,
    key: 'ai.tokens',
    name: 'AI',
    kind: 'metered',
    perUnits: 100,
  })
  await t.db
    .update(features)
    .set({ marginFloorPercent: 50 })
    .where(and(eq(features.projectId, p), eq(features.key, 'ai.tokens')))
  await t.db.insert(priceBook).values({
    projectId: p,
    provider: 'acme',
    model: 'm1',
    inputPerMillionMicros: 1_000_000,
    outputPerMillionMicros: 2_000_000,
    updatedBy: 'test',
  })
  // 10 credits worth 10,000 µUSD: 1,000 µUSD a credit.
  await grantCredits(t.db, {
    projectId: p,
    telegramUserId: 1,
    amount: 10,
    valueMicros: 10_000,
    reason: 'pack',
    source: 'promo',
    actor: 't',
    idempotencyKey: key(),
  })
  return p
}

const reserve = (projectId: string, outputTokens: number, marginFloor?: 'cap' | 'refuse') =>
  reserveFeature(t.db, {
    projectId,
    telegramUserId: 1,
    feature: 'ai.tokens',
    quantity: 500,
    usage: { provider: 'acme', model: 'm1', inputTokens: 100, outputTokens },
    marginFloor,
    actor: 't',
    idempotencyKey: key(),
  })

describe('the margin floor at feature reserve (issue 14)', () => {
  it('returns the largest output that keeps the floor: 5 credits held = 5,000 µUSD, half of it = 100 input + 1,200 output', async () => {
    const p = await floorProject()
    expect((await reserve(p, 2000)).maxOutputTokens).toBe(1200)
    expect((await reserve(p, 1000)).maxOutputTokens).toBe(1000)
  })

  it('refuse mode: an output past the floor is MARGIN_FLOOR_BREACHED and nothing is held', async () => {
    const p = await floorProject()
    const error = await reserve(p, 1201, 'refuse').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MarginFloorBreached)
    expect(await getBalance(t.db, { projectId: p, telegramUserId: 1 })).toMatchObject({
      available: 10,
      held: 0,
    })
    expect((await reserve(p, 1200, 'refuse')).maxOutputTokens).toBe(1200)
  })

  it('no usage given, or no floor: nothing binds', async () => {
    const p = await floorProject()
    const plain = await reserveFeature(t.db, {
      projectId: p,
      telegramUserId: 1,
      feature: 'ai.tokens',
      quantity: 100,
      actor: 't',
      idempotencyKey: key(),
    })
    expect(plain.maxOutputTokens).toBeNull()
  })
})
