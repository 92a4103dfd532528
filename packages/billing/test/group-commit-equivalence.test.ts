import { rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BillingError, consume, release, reserve, settle } from '../src/index.ts'
import { configureGroupCommit, groupCommitStats } from '../src/usage/group-commit.ts'
import { createProject, fund, ledgerMismatches, useDatabase } from './fixtures.ts'

/**
 * Group commit must be invisible: the same calls give the same ledger, lots and responses whether
 * each is its own batch (awaited one after the other) or they all arrive at once and share
 * batches (sent without waiting, in the same order).
 */

type Op =
  | { op: 'consume'; user: number; amount: number; key: number }
  | { op: 'reserve'; user: number; amount: number; ttl: number; key: number }
  | { op: 'settle'; hold: number; amount: number; key: number }
  | { op: 'release'; hold: number; key: number }

interface Burst {
  /** Credits granted before the burst, per user (one lot each, priority and expiry varied). */
  grants: Array<{ user: number; amount: number; priority: number; expiresInMin: number | null }>
  ops: Op[]
}

const users = fc.integer({ min: 1, max: 3 })
// Few keys, so replays (same request) and conflicts (other request, same key) happen often.
const keyNo = fc.integer({ min: 0, max: 12 })
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('consume' as const),
      user: users,
      amount: fc.integer({ min: 1, max: 25 }),
      key: keyNo,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('reserve' as const),
      user: users,
      amount: fc.integer({ min: 1, max: 15 }),
      ttl: fc.integer({ min: 60, max: 600 }),
      key: keyNo,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('settle' as const),
      hold: fc.nat(5),
      amount: fc.integer({ min: 0, max: 20 }),
      key: keyNo,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('release' as const), hold: fc.nat(5), key: keyNo }),
  },
)
const burst: fc.Arbitrary<Burst> = fc.record({
  grants: fc.array(
    fc.record({
      user: users,
      amount: fc.integer({ min: 1, max: 40 }),
      priority: fc.nat(2),
      expiresInMin: fc.option(fc.integer({ min: 1, max: 30 })),
    }),
    { maxLength: 3 },
  ),
  ops: fc.array(op, { minLength: 1, maxLength: 12 }),
})

const RUNS = Number(process.env.EQUIVALENCE_RUNS ?? 40)

describe('group commit is invisible', () => {
  const t = useDatabase()

  /** Runs the bursts on a new project, each burst's calls awaited one by one or all sent at once. */
  async function run(bursts: Burst[], together: boolean) {
    const p = await createProject(t.db)
    const T = Date.UTC(2026, 0, 1)
    const holds: string[] = []
    const outcome: unknown[] = []
    let minute = 0
    for (const [b, { grants, ops }] of bursts.entries()) {
      for (const g of grants) {
        const now = new Date(T + minute++ * 60_000)
        await fund(t.db, p, g.user, g.amount, {
          now,
          priority: g.priority,
          ...(g.expiresInMin
            ? { expiresAt: new Date(now.getTime() + g.expiresInMin * 60_000) }
            : {}),
        })
      }
      const now = new Date(T + minute++ * 60_000)
      // Holds made in earlier bursts only: a call can name a hold once its reserve has answered.
      const known = [...holds]
      const calls = ops.map((o) => () => {
        const common = { projectId: p, actor: 't', now, idempotencyKey: `${b}-${o.key}` }
        if (o.op === 'consume')
          return consume(t.db, { ...common, telegramUserId: o.user, amount: o.amount, reason: 'c' })
        if (o.op === 'reserve')
          return reserve(t.db, {
            ...common,
            telegramUserId: o.user,
            amount: o.amount,
            ttlSeconds: o.ttl,
            reason: 'r',
          })
        const holdId =
          known[o.hold % Math.max(known.length, 1)] ?? '00000000-0000-4000-8000-000000000000'
        if (o.op === 'settle') return settle(t.db, { ...common, holdId, amount: o.amount })
        return release(t.db, { ...common, holdId })
      })
      const settled = together
        ? await Promise.allSettled(calls.map((call) => call()))
        : await sequentially(calls)
      for (const s of settled) {
        if (s.status === 'rejected') {
          if (!(s.reason instanceof BillingError)) throw s.reason
          outcome.push(s.reason.code)
        } else {
          const value = s.value as { holdId?: string }
          if (value.holdId && !holds.includes(value.holdId)) holds.push(value.holdId)
          outcome.push(normalise(value, holds))
        }
      }
    }
    return { ...(await ledgerOf(p)), outcome }
  }

  async function sequentially(calls: Array<() => Promise<unknown>>) {
    const settled: PromiseSettledResult<unknown>[] = []
    for (const call of calls) {
      try {
        settled.push({ status: 'fulfilled', value: await call() })
      } catch (reason) {
        settled.push({ status: 'rejected', reason })
      }
    }
    return settled
  }

  /** Ids differ between the two projects: compare holds by their place, entries without id. */
  function normalise(value: object, holds: string[]) {
    const v = { ...(value as Record<string, unknown>) }
    if ('entryId' in v) v.entryId = 0
    if (typeof v.holdId === 'string') v.holdId = holds.indexOf(v.holdId)
    return v
  }

  async function ledgerOf(p: string) {
    const lots = await rows<{ id: string; amount: string; remaining: string; customer_id: string }>(
      t.db,
      sql`select id, amount, remaining from grants where project_id = ${p} order by id`,
    )
    const place = new Map(lots.map((lot, i) => [Number(lot.id), i]))
    const entries = await rows<Record<string, unknown> & { lots: unknown }>(
      t.db,
      sql`select c.telegram_user_id, e.kind, e.amount, e.held_change, e.debt_change, e.available_after,
                 e.held_after, e.debt_after, e.lots,
                 case when e.kind = 'grant' then null else e.idempotency_key end as idempotency_key
          from ledger_entries e join customers c on c.project_id = e.project_id and c.id = e.customer_id
          where e.project_id = ${p} order by e.id`,
    )
    const ledger = entries.map((e) => {
      const changes = (typeof e.lots === 'string' ? JSON.parse(e.lots) : e.lots) as Array<{
        lotId: number
        amount: number
      }>
      return {
        ...e,
        lots: changes.map((l) => ({ lot: place.get(Number(l.lotId)), amount: Number(l.amount) })),
      }
    })
    const balances = await rows(
      t.db,
      sql`select telegram_user_id, available, held, debt from customers where project_id = ${p} order by telegram_user_id`,
    )
    return { ledger, balances, lots: lots.map(({ amount, remaining }) => ({ amount, remaining })) }
  }

  it(`${RUNS} generated call sequences: one batch per call and shared batches give identical ledgers, balances and responses`, async () => {
    // One lane: every call shares the one queue, so "at once" means one batch in arrival order
    // (keys are shared across users here; across lanes their order would be a race, as it is
    // between any two concurrent requests).
    configureGroupCommit(t.db, { lanes: 1 })
    const before = groupCommitStats(t.db)
    await fc.assert(
      fc.asyncProperty(fc.array(burst, { minLength: 1, maxLength: 4 }), async (bursts) => {
        const alone = await run(bursts, false)
        const together = await run(bursts, true)
        expect(together.outcome).toEqual(alone.outcome)
        expect(together.ledger).toEqual(alone.ledger)
        expect(together.balances).toEqual(alone.balances)
        expect(together.lots).toEqual(alone.lots)
      }),
      { numRuns: RUNS, seed: Number(process.env.EQUIVALENCE_SEED ?? 20261202) },
    )
    // The comparison means something only if calls did share batches.
    const after = groupCommitStats(t.db)
    expect(after.acts - before.acts).toBeGreaterThan(after.batches - before.batches)
    expect(await ledgerMismatches(t.db)).toEqual([])
  }, 600_000)
})
