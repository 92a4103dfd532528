import { rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import {
  consume,
  consumeMany,
  getBalance,
  groupCommitStats,
  InsufficientCredits,
  type ItemOutcome,
} from '../src/index.ts'
import {
  countEntries,
  createProject,
  fund,
  key,
  ledgerMismatches,
  onPostgres,
  useDatabase,
} from './fixtures.ts'

if (!onPostgres) console.warn('group-commit concurrency suite skipped: it needs PostgreSQL')

describe.skipIf(!onPostgres)('group commit under concurrency on PostgreSQL', () => {
  const t = useDatabase({ poolSize: 16 })

  /** The lots of a customer, oldest first: what they held and what is left. */
  async function lots(projectId: string) {
    return rows<{ amount: string; remaining: string }>(
      t.db,
      sql`select amount, remaining from grants where project_id = ${projectId} order by id`,
    )
  }

  it('one hot customer: single calls and 1,000-item batches at once never overspend and burn exactly', async () => {
    const p = await createProject(t.db)
    for (const amount of [300, 200, 250, 250]) await fund(t.db, p, 1, amount)
    const granted = 1_000
    const before = groupCommitStats(t.db)
    const amountOf = (i: number) => 1 + (i % 3)
    const singles = Array.from({ length: 400 }, (_, i) =>
      consume(t.db, {
        projectId: p,
        telegramUserId: 1,
        amount: amountOf(i),
        reason: 'single',
        actor: 't',
        idempotencyKey: `s${i}`,
      }).then(
        (r) => ({ ok: true as const, result: r }),
        (error: unknown) => {
          expect(error).toBeInstanceOf(InsufficientCredits)
          return { ok: false as const, error: { code: 'INSUFFICIENT_CREDITS', message: '' } }
        },
      ),
    )
    const batches = Array.from({ length: 3 }, (_, b) =>
      consumeMany(
        t.db,
        { projectId: p, actor: 't' },
        Array.from({ length: 200 }, (_, i) => ({
          telegramUserId: 1,
          amount: amountOf(i),
          reason: 'bulk',
          idempotencyKey: `b${b}-${i}`,
        })),
      ),
    )
    const outcomes: ItemOutcome<{ consumed: number; available: number }>[] = [
      ...(await Promise.all(singles)),
      ...(await Promise.all(batches)).flat(),
    ]
    const refused = outcomes.filter((o) => !o.ok)
    for (const o of refused) expect(o.error.code).toBe('INSUFFICIENT_CREDITS')
    const spent = outcomes.reduce((sum, o) => sum + (o.ok ? o.result.consumed : 0), 0)
    // 1,000 calls of 1, 2 or 3 ask for ~2,000 credits: the balance runs out, and never below 0.
    expect(refused.length).toBeGreaterThan(0)
    const balance = await getBalance(t.db, { projectId: p, telegramUserId: 1 })
    expect(balance.available).toBeGreaterThanOrEqual(0)
    expect(balance.available).toBeLessThan(3)
    expect(spent + balance.available).toBe(granted)
    expect(await countEntries(t.db, p, 'consume')).toBe(outcomes.filter((o) => o.ok).length)
    // Every answer's `available` is distinct: each success saw the one before it.
    const seen = outcomes.filter((o) => o.ok).map((o) => (o.ok ? o.result.available : -1))
    expect(new Set(seen).size).toBe(seen.length)
    // Burn order (oldest first, same priority, no expiry): drained lots, then at most one partial.
    const left = (await lots(p)).map((l) => Number(l.remaining))
    expect(left.reduce((a, b) => a + b, 0)).toBe(balance.available)
    const firstNonEmpty = left.findIndex((r) => r > 0)
    if (firstNonEmpty >= 0)
      expect(
        left
          .slice(firstNonEmpty + 1)
          .every((r, i) => r === [300, 200, 250, 250][firstNonEmpty + 1 + i]),
      ).toBe(true)
    expect(await ledgerMismatches(t.db)).toEqual([])
    // The calls coalesced: far fewer transactions than calls.
    const after = groupCommitStats(t.db)
    expect(after.acts - before.acts).toBe(1_000)
    expect(after.batches - before.batches).toBeLessThan(500)
  }, 300_000)

  it('many customers at once: every balance exact, each success written once', async () => {
    const p = await createProject(t.db)
    const customers = 40
    for (let u = 1; u <= customers; u++) await fund(t.db, p, u, 50)
    const calls = []
    for (let round = 0; round < 15; round++) {
      for (let u = 1; u <= customers; u++) {
        calls.push(
          consume(t.db, {
            projectId: p,
            telegramUserId: u,
            amount: 5,
            reason: 'r',
            actor: 't',
            idempotencyKey: key(),
          }).then(
            () => true,
            (error: unknown) => {
              expect(error).toBeInstanceOf(InsufficientCredits)
              return false
            },
          ),
        )
      }
    }
    const done = await Promise.all(calls)
    expect(done.filter(Boolean).length).toBe(customers * 10)
    for (let u = 1; u <= customers; u++) {
      expect((await getBalance(t.db, { projectId: p, telegramUserId: u })).available).toBe(0)
    }
    expect(await countEntries(t.db, p, 'consume')).toBe(customers * 10)
    expect(await ledgerMismatches(t.db)).toEqual([])
  }, 300_000)
})
