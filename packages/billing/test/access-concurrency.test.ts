import { rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import {
  configureAccess,
  consumeFeature,
  defineFeature,
  getBalance,
  InsufficientCredits,
  pollEvents,
  QuotaExceeded,
  reserveFeature,
  setQuota,
} from '../src/index.ts'
import { createProject, fund, key, ledgerMismatches, onPostgres, useDatabase } from './fixtures.ts'

if (!onPostgres)
  console.warn(
    'access concurrency suite skipped: it needs PostgreSQL (set TEST_DATABASE_URL); PGlite has one connection',
  )

describe.skipIf(!onPostgres)('features and quotas under concurrency on PostgreSQL', () => {
  const t = useDatabase({ poolSize: 16 })

  async function outcomes<T>(calls: Array<() => Promise<T>>) {
    const results = await Promise.allSettled(calls.map((call) => call()))
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
    return { ok, errors }
  }

  const consumeCalls = (projectId: string, telegramUserId: number, feature: string, n: number) =>
    Array.from(
      { length: n },
      () => () =>
        consumeFeature(t.db, {
          projectId,
          telegramUserId,
          feature,
          quantity: 1,
          actor: 't',
          idempotencyKey: key(),
        }),
    )

  async function imageProject(limit: number) {
    const p = await createProject(t.db)
    await defineFeature(t.db, {
      projectId: p,
      key: 'image',
      name: 'Image',
      kind: 'metered',
      credits: 1,
    })
    await setQuota(t.db, {
      projectId: p,
      featureKey: 'image',
      scope: 'project',
      limit,
      period: 'day',
    })
    return p
  }

  it('the last slot of a quota: of 60 concurrent requests exactly `limit` succeed', async () => {
    const p = await imageProject(5)
    await fund(t.db, p, 1, 1_000)
    const { ok, errors } = await outcomes(consumeCalls(p, 1, 'image', 60))
    expect(ok.length).toBe(5)
    expect(errors.length).toBe(55)
    for (const e of errors) expect(e).toBeInstanceOf(QuotaExceeded)
    expect((await getBalance(t.db, { projectId: p, telegramUserId: 1 })).available).toBe(995)
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('concurrent reserves and consumes share the last slots: never more than the limit', async () => {
    const p = await imageProject(7)
    await fund(t.db, p, 1, 1_000)
    const reserves = Array.from(
      { length: 30 },
      () => () =>
        reserveFeature(t.db, {
          projectId: p,
          telegramUserId: 1,
          feature: 'image',
          quantity: 1,
          actor: 't',
          idempotencyKey: key(),
        }),
    )
    const { ok, errors } = await outcomes<unknown>([
      ...reserves,
      ...consumeCalls(p, 1, 'image', 30),
    ])
    expect(ok.length).toBe(7)
    for (const e of errors) expect(e).toBeInstanceOf(QuotaExceeded)
    const [row] = await rows<{ units: string }>(
      t.db,
      sql`select (select coalesce(sum(quantity), 0) from usage_events where project_id = ${p})
               + (select coalesce(sum(quantity), 0) from usage_reservations where project_id = ${p} and status = 'active') as units`,
    )
    expect(Number(row!.units)).toBe(7)
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('a free allowance is given exactly once per unit under concurrency', async () => {
    const p = await createProject(t.db)
    await defineFeature(t.db, {
      projectId: p,
      key: 'image',
      name: 'Image',
      kind: 'metered',
      credits: 1,
    })
    await setQuota(t.db, {
      projectId: p,
      featureKey: 'image',
      scope: 'project',
      limit: 10,
      period: 'day',
      free: true,
    })
    await fund(t.db, p, 1, 15)
    const { ok, errors } = await outcomes(consumeCalls(p, 1, 'image', 40))
    expect(ok.filter((r) => r.freeQuantity === 1).length).toBe(10)
    expect(ok.filter((r) => r.credits === 1).length).toBe(15)
    expect(errors.length).toBe(15)
    for (const e of errors) expect(e).toBeInstanceOf(InsufficientCredits)
    expect((await getBalance(t.db, { projectId: p, telegramUserId: 1 })).available).toBe(0)
  })

  it('one low-balance event per crossing, however many requests cross at once', async () => {
    const p = await createProject(t.db)
    await configureAccess(t.db, { projectId: p, lowBalanceThreshold: 100 })
    await defineFeature(t.db, {
      projectId: p,
      key: 'image',
      name: 'Image',
      kind: 'metered',
      credits: 5,
    })
    for (const user of [1, 2, 3]) await fund(t.db, p, user, 200)
    const calls = [1, 2, 3].flatMap((user) => consumeCalls(p, user, 'image', 50))
    const { ok } = await outcomes(calls)
    expect(ok.length).toBe(120) // 40 × 5 credits per customer
    const { events } = await pollEvents(t.db, { projectId: p })
    expect(events.map((e) => e.type)).toEqual(['balance.low', 'balance.low', 'balance.low'])
    expect(events.map((e) => e.telegramUserId).sort()).toEqual([1, 2, 3])
    for (const e of events) expect(e.payload).toMatchObject({ threshold: 100, available: 95 })
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('one quota-exhausted event per window, with many requests filling and hitting the cap at once', async () => {
    const p = await imageProject(3)
    await fund(t.db, p, 1, 1_000)
    await outcomes(consumeCalls(p, 1, 'image', 40))
    const { events } = await pollEvents(t.db, { projectId: p })
    expect(events.map((e) => e.type)).toEqual(['quota.exhausted'])
  })
})
