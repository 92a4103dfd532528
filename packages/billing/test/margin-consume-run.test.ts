import { events, ledgerEntries } from '@e-stars/db'
import { and, eq } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { addCostCap, consume, getBalance, verifyLedger } from '../src/index.ts'
import { createProject, fund, key, ledgerMismatches, useDatabase } from './fixtures.ts'

/**
 * Issue 14 in the group-commit path: consumes with a usage record take the ledger's general door
 * (priced, cost-capped) in the middle of a run of staged consumes for the same customer, and the
 * run stays exact — balances, chain and costs.
 */
const t = useDatabase({ poolSize: 10 })
const USER = 31_337
const usage = (costMicros: number) => ({
  provider: 'acme',
  model: 'm',
  inputTokens: 10,
  outputTokens: 10,
  costMicros,
})

describe('credit-level consume with a usage record, inside a batch', () => {
  it('mixed with plain consumes for one customer, all at once: each costed, the ledger exact', async () => {
    const projectId = await createProject(t.db)
    await fund(t.db, projectId, USER, 1_000)
    const calls = Array.from({ length: 30 }, (_, i) =>
      consume(t.db, {
        projectId,
        telegramUserId: USER,
        amount: 3,
        reason: 'answer',
        actor: 'test',
        idempotencyKey: key(),
        ...(i % 3 === 0 ? { usage: usage(1_000 + i) } : {}),
      }),
    )
    const results = await Promise.all(calls)
    expect(results.every((r) => r.consumed === 3)).toBe(true)
    expect((await getBalance(t.db, { projectId, telegramUserId: USER })).available).toBe(1_000 - 90)
    const rows = (
      await t.db.select().from(ledgerEntries).where(eq(ledgerEntries.projectId, projectId))
    ).filter((e) => e.kind === 'consume')
    expect(rows).toHaveLength(30)
    const costed = rows.filter((e) => e.costMicros !== null).map((e) => e.costMicros)
    expect(costed.sort()).toEqual(Array.from({ length: 10 }, (_, j) => 1_000 + j * 3).sort())
    expect(await ledgerMismatches(t.db)).toEqual([])
    expect((await verifyLedger(t.db, { projectId })).findings).toEqual([])
  })

  it('a cost cap refuses exactly the calls past it, under concurrency; plain consumes go on', async () => {
    const projectId = await createProject(t.db)
    await fund(t.db, projectId, USER, 1_000)
    await addCostCap(t.db, { projectId, scope: 'project', period: 'day', capMicros: 10_000 })
    const settled = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        consume(t.db, {
          projectId,
          telegramUserId: USER,
          amount: 1,
          reason: 'answer',
          actor: 'test',
          idempotencyKey: key(),
          ...(i % 2 === 0 ? { usage: usage(2_500) } : {}),
        }),
      ),
    )
    // Ten priced calls of 0.0025 USD against a 0.01 USD cap: four fit, six are refused.
    const refused = settled.filter((s) => s.status === 'rejected')
    expect(refused).toHaveLength(6)
    for (const r of refused)
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'COST_CAP_REACHED' })
    expect((await getBalance(t.db, { projectId, telegramUserId: USER })).available).toBe(1_000 - 14)
    expect(await ledgerMismatches(t.db)).toEqual([])
    expect((await verifyLedger(t.db, { projectId })).findings).toEqual([])
    // Six refusals, one event: cost_cap.reached is latched per cap, customer and period.
    const told = await t.db
      .select({ payload: events.payload })
      .from(events)
      .where(and(eq(events.projectId, projectId), eq(events.type, 'cost_cap.reached')))
    expect(told).toEqual([
      { payload: expect.objectContaining({ scope: 'project', period: 'day', capMicros: 10_000 }) },
    ])
  })
})
