import { projects, rows } from '@e-stars/db'
import { eq, sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import {
  defineFeature,
  getBalance,
  InsufficientCredits,
  InvalidInput,
  NotFound,
  reserveFeature,
  setQuota,
  settleFeature,
  verifyLedger,
} from '../src/index.ts'
import type { OveragePolicy } from '../src/usage/overage.ts'
import { createProject, fund, key, ledgerMismatches, useDatabase } from './fixtures.ts'

const t = useDatabase({ poolSize: 6 })

/** A project billing AI tokens at 1 credit per 100, optionally with a daily free allowance. */
async function tokensProject(policy: OveragePolicy | null, freeTokens = 0) {
  const p = await createProject(t.db)
  if (policy) await t.db.update(projects).set({ overagePolicy: policy }).where(eq(projects.id, p))
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

const reserveTokens = (
  projectId: string,
  telegramUserId: number,
  quantity: number,
  minQuantity?: number,
) =>
  reserveFeature(t.db, {
    projectId,
    telegramUserId,
    feature: 'ai.tokens',
    quantity,
    minQuantity,
    actor: 'test',
    idempotencyKey: key(),
  })

const settleTokens = (projectId: string, reservationId: string, quantity: number) =>
  settleFeature(t.db, {
    projectId,
    reservationId,
    quantity,
    actor: 'test',
    idempotencyKey: key(),
  })

async function shortfallEntries(projectId: string) {
  return rows<{
    amount: number
    debt_change: number
    metadata: Record<string, unknown>
  }>(
    t.db,
    sql`select amount::int, debt_change::int, metadata from ledger_entries
        where project_id = ${projectId} and kind = 'shortfall' order by id`,
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

async function ledgerIsSound(projectId: string) {
  expect(await ledgerMismatches(t.db)).toEqual([])
  expect((await verifyLedger(t.db, { projectId })).findings).toEqual([])
}

describe('overage: the work cost more than its hold and the customer cannot pay', () => {
  it('issue 19 reproduced: 6,050 tokens on 5,000 free and 0 credits leaves a shortfall entry (the free allowance alone held it)', async () => {
    const p = await tokensProject(null, 5000)
    const r = await reserveTokens(p, 1, 6000, 200)
    // cap (the default): the reservation shrinks to what can be paid, the free 5,000.
    expect(r).toMatchObject({
      overagePolicy: 'cap',
      quantity: 5000,
      requestedQuantity: 6000,
      maxQuantity: 5000,
      credits: 0,
    })
    // The model ignores the cap and reports 6,050 tokens.
    const s = await settleTokens(p, r.reservationId, 6050)
    expect(s).toMatchObject({ freeQuantity: 5000, charged: 0, shortfall: 11 })
    expect(s.entryId).not.toBeNull()
    expect(s.overage).toMatchObject({
      policy: 'cap',
      units: 1050,
      credits: 11,
      paid: 0,
      debt: 0,
      absorbed: 11,
      entryId: s.entryId,
    })
    const entries = await shortfallEntries(p)
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ amount: 0, debt_change: 0 })
    expect(entries[0]!.metadata).toMatchObject({
      policy: 'cap',
      unpaidUnits: 1050,
      unpaidCredits: 11,
      feature: 'ai.tokens',
      reservationId: r.reservationId,
    })
    await ledgerIsSound(p)
  })

  it('cap: the reserve holds only what the balance pays and returns that as the most units the work may use', async () => {
    const p = await tokensProject('cap')
    await fund(t.db, p, 2, 3)
    const r = await reserveTokens(p, 2, 1000, 100)
    expect(r).toMatchObject({ quantity: 300, maxQuantity: 300, credits: 3, available: 0, held: 3 })
    // Within the cap: no shortfall, no shortfall entry.
    const s = await settleTokens(p, r.reservationId, 300)
    expect(s).toMatchObject({ charged: 3, shortfall: 0, overage: null })
    expect(await shortfallEntries(p)).toEqual([])
    await ledgerIsSound(p)
  })

  it('cap: below minQuantity, or without one, an unaffordable estimate is refused and nothing is written', async () => {
    const p = await tokensProject('cap')
    await fund(t.db, p, 3, 1)
    expect(await rejection(reserveTokens(p, 3, 1000, 200))).toBeInstanceOf(InsufficientCredits)
    expect(await rejection(reserveTokens(p, 3, 1000))).toBeInstanceOf(InsufficientCredits)
    expect(await getBalance(t.db, { projectId: p, telegramUserId: 3 })).toMatchObject({
      available: 1,
      held: 0,
    })
  })

  it('cap: a model that runs past max_tokens anyway is the operator’s loss, on the ledger', async () => {
    const p = await tokensProject('cap')
    await fund(t.db, p, 4, 3)
    const r = await reserveTokens(p, 4, 1000, 100)
    const s = await settleTokens(p, r.reservationId, 450)
    expect(s).toMatchObject({ charged: 3, shortfall: 2, available: 0, debt: 0 })
    expect(s.overage).toMatchObject({ policy: 'cap', units: 150, credits: 2, absorbed: 2 })
    await ledgerIsSound(p)
  })

  it('debt: the unpaid part becomes debt and the next grant repays it first', async () => {
    const p = await tokensProject('debt')
    await fund(t.db, p, 5, 5)
    const r = await reserveTokens(p, 5, 500)
    expect(r).toMatchObject({ overagePolicy: 'debt', maxQuantity: null, credits: 5 })
    const s = await settleTokens(p, r.reservationId, 800)
    expect(s).toMatchObject({ charged: 5, shortfall: 3, available: 0, debt: 3 })
    expect(s.overage).toMatchObject({ policy: 'debt', units: 300, credits: 3, debt: 3, paid: 0 })
    const [entry] = await shortfallEntries(p)
    expect(entry).toMatchObject({ amount: 0, debt_change: 3 })
    await fund(t.db, p, 5, 10)
    expect(await getBalance(t.db, { projectId: p, telegramUserId: 5 })).toMatchObject({
      available: 7,
      debt: 0,
    })
    await ledgerIsSound(p)
  })

  it('debt: what the balance still holds pays first, only the rest is owed', async () => {
    const p = await tokensProject('debt')
    await fund(t.db, p, 6, 7)
    const r = await reserveTokens(p, 6, 500)
    const s = await settleTokens(p, r.reservationId, 1000)
    // Overage 5, 2 available: 2 paid from the balance, 3 owed.
    expect(s).toMatchObject({ charged: 7, shortfall: 3, available: 0, debt: 3 })
    expect(s.overage).toMatchObject({ credits: 5, paid: 2, debt: 3, absorbed: 0 })
    const [entry] = await shortfallEntries(p)
    expect(entry).toMatchObject({ amount: -2, debt_change: 3 })
    await ledgerIsSound(p)
  })

  it('absorb: the balance and debt stay, the loss is recorded', async () => {
    const p = await tokensProject('absorb')
    await fund(t.db, p, 7, 5)
    const r = await reserveTokens(p, 7, 500)
    expect(r.maxQuantity).toBeNull()
    const s = await settleTokens(p, r.reservationId, 900)
    expect(s).toMatchObject({ charged: 5, shortfall: 4, available: 0, debt: 0 })
    expect(s.overage).toMatchObject({ policy: 'absorb', units: 400, credits: 4, absorbed: 4 })
    const [entry] = await shortfallEntries(p)
    expect(entry).toMatchObject({ amount: 0, debt_change: 0 })
    expect(entry!.metadata).toMatchObject({ policy: 'absorb', absorbed: 4, unpaidUnits: 400 })
    await ledgerIsSound(p)
  })

  it('debt with only the free allowance held: the whole overage is owed', async () => {
    const p = await tokensProject('debt', 5000)
    const r = await reserveTokens(p, 8, 5000)
    const s = await settleTokens(p, r.reservationId, 6050)
    expect(s).toMatchObject({ charged: 0, shortfall: 11, debt: 11 })
    expect(s.entryId).toBe(s.overage!.entryId)
    await ledgerIsSound(p)
  })

  it('bad input names the field; nothing is reserved', async () => {
    const p = await tokensProject('cap')
    await fund(t.db, p, 9, 10)
    const over = await rejection(reserveTokens(p, 9, 100, 200))
    expect(over).toBeInstanceOf(InvalidInput)
    expect(over).toMatchObject({ field: 'minQuantity' })
    const zero = await rejection(reserveTokens(p, 9, 100, 0))
    expect(zero).toMatchObject({ field: 'minQuantity' })
    const frac = await rejection(reserveTokens(p, 9, 100, 1.5))
    expect(frac).toMatchObject({ field: 'minQuantity' })
    expect(await getBalance(t.db, { projectId: p, telegramUserId: 9 })).toMatchObject({
      available: 10,
      held: 0,
    })
  })

  it('another project cannot settle the reservation', async () => {
    const p = await tokensProject('debt')
    const other = await tokensProject('debt')
    await fund(t.db, p, 10, 5)
    const r = await reserveTokens(p, 10, 500)
    expect(await rejection(settleTokens(other, r.reservationId, 900))).toBeInstanceOf(NotFound)
    expect(await shortfallEntries(other)).toEqual([])
    expect(await getBalance(t.db, { projectId: p, telegramUserId: 10 })).toMatchObject({
      held: 5,
      debt: 0,
    })
  })

  it('cap under concurrency: parallel reserves together never hold more than the balance', {
    timeout: 120_000,
  }, async () => {
    const p = await tokensProject('cap')
    await fund(t.db, p, 11, 5)
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => reserveTokens(p, 11, 300, 100)),
    )
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(InsufficientCredits)
    }
    const held = ok.reduce((sum, r) => sum + r.credits, 0)
    expect(held).toBe(5)
    for (const r of ok) expect(r.maxQuantity).toBe(r.credits * 100)
    expect(await getBalance(t.db, { projectId: p, telegramUserId: 11 })).toMatchObject({
      available: 0,
      held: 5,
    })
    // Each over-reports by 100 tokens in parallel: every shortfall is an entry, the ledger holds.
    const settled = await Promise.all(
      ok.map((r) => settleTokens(p, r.reservationId, r.quantity + 100)),
    )
    expect(settled.every((s) => s.overage?.credits === 1)).toBe(true)
    expect(await shortfallEntries(p)).toHaveLength(ok.length)
    await ledgerIsSound(p)
  })
})
