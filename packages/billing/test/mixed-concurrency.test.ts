import { describe, expect, it } from 'vitest'
import { BillingError, consume, getBalance, release, reserve, settle } from '../src/index.ts'
import { createProject, fund, key, ledgerMismatches, onPostgres, useDatabase } from './fixtures.ts'

describe.skipIf(!onPostgres)(
  'mixed operations on one customer whose demand exceeds the balance',
  () => {
    const t = useDatabase({ poolSize: 30 })

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
      for (let round = 0; round < 6; round++) {
        await Promise.all(Array.from({ length: 600 }, (_, i) => one(i + round)))
        await new Promise((r) => setTimeout(r, 400))
      }
      expect(unexpected.map((e) => String((e as Error).cause ?? e))).toEqual([])
      const balance = await getBalance(t.db, { projectId: p, telegramUserId: 1 })
      expect(balance.available).toBeGreaterThanOrEqual(0)
      expect(await ledgerMismatches(t.db)).toEqual([])
    }, 120_000)
  },
)
