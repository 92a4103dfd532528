import { describe, expect, it } from 'vitest'
import { consume, getBalance, InsufficientCredits, release, reserve, settle } from '../src/index.ts'
import {
  countEntries,
  createProject,
  fund,
  key,
  ledgerMismatches,
  onPostgres,
  useDatabase,
} from './fixtures.ts'

if (!onPostgres)
  console.warn(
    'concurrency suite skipped: it needs PostgreSQL (set TEST_DATABASE_URL); PGlite has one connection',
  )

// PGlite serializes everything on one connection, so these only mean something on PostgreSQL.
describe.skipIf(!onPostgres)('under concurrency on PostgreSQL', () => {
  const t = useDatabase({ poolSize: 16 })

  async function settled<T>(calls: Array<() => Promise<T>>) {
    const results = await Promise.allSettled(calls.map((call) => call()))
    const ok = results.filter((r) => r.status === 'fulfilled')
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    for (const f of failed) expect(f.reason).toBeInstanceOf(InsufficientCredits)
    return { ok: ok.length, failed: failed.length }
  }

  it('1000 concurrent consume(1) on a balance of 100: exactly 100 succeed', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 60)
    await fund(t.db, p, 1, 40, { expiresAt: new Date(Date.now() + 3_600_000) })
    const calls = Array.from(
      { length: 1000 },
      () => () =>
        consume(t.db, {
          projectId: p,
          telegramUserId: 1,
          amount: 1,
          reason: 'r',
          actor: 't',
          idempotencyKey: key(),
        }),
    )
    expect(await settled(calls)).toEqual({ ok: 100, failed: 900 })
    const balance = await getBalance(t.db, { projectId: p, telegramUserId: 1 })
    expect(balance).toMatchObject({ available: 0, held: 0 })
    expect(balance.lots).toEqual([])
    expect(await countEntries(t.db, p, 'consume')).toBe(100)
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('concurrent reserves never take available below zero; settles and releases stay exact', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 100)
    const calls = Array.from(
      { length: 300 },
      () => () =>
        reserve(t.db, {
          projectId: p,
          telegramUserId: 1,
          amount: 3,
          reason: 'r',
          actor: 't',
          idempotencyKey: key(),
        }),
    )
    const results = await Promise.allSettled(calls.map((c) => c()))
    const holds = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    expect(holds).toHaveLength(33)
    expect(await getBalance(t.db, { projectId: p, telegramUserId: 1 })).toMatchObject({
      available: 1,
      held: 99,
    })
    await Promise.all(
      holds.map((h, i) =>
        i % 2
          ? settle(t.db, {
              projectId: p,
              holdId: h.holdId,
              amount: 2,
              actor: 't',
              idempotencyKey: key(),
            })
          : release(t.db, { projectId: p, holdId: h.holdId, actor: 't', idempotencyKey: key() }),
      ),
    )
    // 16 settled at 2 each: 32 spent.
    expect(await getBalance(t.db, { projectId: p, telegramUserId: 1 })).toMatchObject({
      available: 68,
      held: 0,
    })
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('the same idempotency key sent 50 times at once is applied once', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 100)
    const k = key()
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        consume(t.db, {
          projectId: p,
          telegramUserId: 1,
          amount: 7,
          reason: 'r',
          actor: 't',
          idempotencyKey: k,
        }),
      ),
    )
    expect(new Set(results.map((r) => r.entryId)).size).toBe(1)
    expect(results.every((r) => r.available === 93)).toBe(true)
    expect(await countEntries(t.db, p, 'consume')).toBe(1)
  })

  it('grants and consumes racing on many customers keep every cache equal to its ledger', async () => {
    const p = await createProject(t.db)
    const users = Array.from({ length: 20 }, (_, i) => i + 1)
    await Promise.all(users.map((u) => fund(t.db, p, u, 10)))
    const calls = users.flatMap((u) => [
      ...Array.from(
        { length: 15 },
        () => () =>
          consume(t.db, {
            projectId: p,
            telegramUserId: u,
            amount: 1,
            reason: 'r',
            actor: 't',
            idempotencyKey: key(),
          }),
      ),
      () => fund(t.db, p, u, 3),
    ])
    await Promise.allSettled(calls.map((c) => c()))
    expect(await ledgerMismatches(t.db)).toEqual([])
    for (const u of users) {
      const b = await getBalance(t.db, { projectId: p, telegramUserId: u })
      expect(b.available).toBeGreaterThanOrEqual(0)
      expect(b.available).toBeLessThanOrEqual(13)
    }
  })
})
