import { rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import {
  BillingError,
  consume,
  getBalance,
  IdempotencyConflict,
  release,
  reserve,
  settle,
  verifyLedger,
} from '../src/index.ts'
import { createProject, fund, key, ledgerMismatches, onPostgres, useDatabase } from './fixtures.ts'

describe.skipIf(!onPostgres)(
  'mixed operations on one customer whose demand exceeds the balance',
  () => {
    const t = useDatabase({ poolSize: 16 })

    it('consume, reserve, settle and release at once: never a CHECK violation, only typed refusals', async () => {
      const p = await createProject(t.db)
      await fund(t.db, p, 1, 40)
      await fund(t.db, p, 1, 30, { expiresAt: new Date(Date.now() + 3_600_000) })
      await fund(t.db, p, 1, 30, { priority: 5 })
      const unexpected: unknown[] = []
      const base = { projectId: p, telegramUserId: 1, reason: 'r', actor: 't' }
      const one = async (i: number) => {
        try {
          const r = i % 4
          if (r === 0) {
            await consume(t.db, { ...base, amount: 2, idempotencyKey: key() })
          } else if (r === 1) {
            const hold = await reserve(t.db, { ...base, amount: 3, idempotencyKey: key() })
            await settle(t.db, {
              projectId: p,
              actor: 't',
              holdId: hold.holdId,
              amount: i % 3 === 0 ? 5 : 1,
              idempotencyKey: key(),
            })
          } else if (r === 2) {
            const hold = await reserve(t.db, { ...base, amount: 2, idempotencyKey: key() })
            await release(t.db, {
              projectId: p,
              actor: 't',
              holdId: hold.holdId,
              idempotencyKey: key(),
            })
          } else if (i % 8 === 3) {
            await reserve(t.db, { ...base, amount: 2, ttlSeconds: 1, idempotencyKey: key() })
          } else {
            await fund(t.db, p, 1, 2, { expiresAt: new Date(Date.now() + 500 + (i % 7) * 300) })
          }
        } catch (error) {
          if (!(error instanceof BillingError)) unexpected.push(error)
        }
      }
      for (let round = 0; round < 4; round++) {
        await Promise.all(Array.from({ length: 400 }, (_, i) => one(i + round)))
        await new Promise((r) => setTimeout(r, 400))
      }
      expect(unexpected.map((e) => String((e as Error).cause ?? e))).toEqual([])
      const balance = await getBalance(t.db, { projectId: p, telegramUserId: 1 })
      expect(balance.available).toBeGreaterThanOrEqual(0)
      expect(await ledgerMismatches(t.db)).toEqual([])
      expect((await verifyLedger(t.db)).findings).toEqual([])
      expect((await verifyLedger(t.db)).findings).toEqual([])
    }, 300_000)
  },
)

describe.skipIf(!onPostgres)('one idempotency key used for two operations at once', () => {
  const t = useDatabase({ poolSize: 16 })

  it('30 keys, each sent as consume ×5 and reserve ×1 at once: one act per key, the rest replay or CONFLICT, never a database error', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 10_000)
    const base = { projectId: p, telegramUserId: 1, reason: 'r', actor: 't' }
    const keys = Array.from({ length: 30 }, () => key())
    const calls = keys.flatMap((k) => [
      ...Array.from(
        { length: 5 },
        () => () => consume(t.db, { ...base, amount: 1, idempotencyKey: k }),
      ),
      () => reserve(t.db, { ...base, amount: 1, idempotencyKey: k }),
    ])
    // Interleave so consumes and reserves of one key race each other.
    calls.sort(() => Math.random() - 0.5)
    const results = await Promise.allSettled(calls.map((call) => call()))
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))
    for (const failure of failures) expect(failure).toBeInstanceOf(IdempotencyConflict)
    const [row] = await rows<{ n: string }>(
      t.db,
      sql`select count(*) n from ledger_entries where project_id = ${p} and idempotency_key is not null and kind in ('consume', 'hold')`,
    )
    expect(Number(row!.n)).toBe(30)
    expect(await ledgerMismatches(t.db)).toEqual([])
    expect((await verifyLedger(t.db)).findings).toEqual([])
  }, 120_000)
})
