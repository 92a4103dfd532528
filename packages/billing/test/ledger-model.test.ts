import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { consume, getBalance, grantCredits, release, reserve, settle } from '../src/index.ts'
import { createProject, key, ledgerMismatches, useDatabase } from './fixtures.ts'

/** A deliberately simple in-memory model of lots and holds that the engine must agree with. */
interface Lot {
  id: number
  remaining: number
  expiresAt: number | null
  priority: number
}
interface Hold {
  id: string
  amount: number
  allocations: Array<{ lotId: number; amount: number }>
  expiresAt: number
  open: boolean
}

class Model {
  lots: Lot[] = []
  holds: Hold[] = []
  live = (lot: Lot, now: number) => lot.expiresAt === null || lot.expiresAt > now
  sweep(now: number) {
    for (const hold of this.holds.filter((h) => h.open && h.expiresAt <= now)) {
      hold.open = false
      this.giveBack(hold.allocations, now)
    }
    for (const lot of this.lots) if (!this.live(lot, now)) lot.remaining = 0
  }
  giveBack(allocations: Hold['allocations'], now: number) {
    for (const a of allocations) {
      const lot = this.lots.find((l) => l.id === a.lotId)!
      if (this.live(lot, now)) lot.remaining += a.amount
    }
  }
  available = (now: number) =>
    this.lots.filter((l) => this.live(l, now)).reduce((s, l) => s + l.remaining, 0)
  held = () => this.holds.filter((h) => h.open).reduce((s, h) => s + h.amount, 0)
  take(amount: number, now: number) {
    if (this.available(now) < amount) return null
    const order = this.lots
      .filter((l) => this.live(l, now) && l.remaining > 0)
      .sort(
        (a, b) =>
          (a.expiresAt ?? Number.POSITIVE_INFINITY) - (b.expiresAt ?? Number.POSITIVE_INFINITY) ||
          b.priority - a.priority ||
          a.id - b.id,
      )
    const out: Hold['allocations'] = []
    let need = amount
    for (const lot of order) {
      const n = Math.min(need, lot.remaining)
      if (n === 0) break
      lot.remaining -= n
      need -= n
      out.push({ lotId: lot.id, amount: n })
    }
    return out
  }
}

type Op =
  | { op: 'grant'; amount: number; expiresIn: number | null; priority: number }
  | { op: 'consume'; amount: number }
  | { op: 'reserve'; amount: number; ttl: number }
  | { op: 'settle'; hold: number; actual: number }
  | { op: 'release'; hold: number }
  | { op: 'wait'; seconds: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('grant' as const),
    amount: fc.integer({ min: 1, max: 50 }),
    expiresIn: fc.option(fc.integer({ min: 1, max: 120 }), { nil: null, freq: 2 }),
    priority: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({ op: fc.constant('consume' as const), amount: fc.integer({ min: 1, max: 40 }) }),
  fc.record({
    op: fc.constant('reserve' as const),
    amount: fc.integer({ min: 1, max: 40 }),
    ttl: fc.integer({ min: 1, max: 120 }),
  }),
  fc.record({
    op: fc.constant('settle' as const),
    hold: fc.nat(),
    actual: fc.integer({ min: 0, max: 60 }),
  }),
  fc.record({ op: fc.constant('release' as const), hold: fc.nat() }),
  fc.record({ op: fc.constant('wait' as const), seconds: fc.integer({ min: 1, max: 90 }) }),
)

describe('ledger invariant', () => {
  const t = useDatabase()

  it('after any sequence of operations, balances match the model and every cache equals its ledger', async () => {
    const start = Date.now()
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const projectId = await createProject(t.db)
        const model = new Model()
        const base = { projectId, telegramUserId: 7, actor: 'model', reason: 'model' }
        let clock = start
        for (const step of ops) {
          const now = new Date(clock)
          model.sweep(clock)
          const ik = key()
          switch (step.op) {
            case 'grant': {
              const expiresAt =
                step.expiresIn === null ? null : new Date(clock + step.expiresIn * 1000)
              const r = await grantCredits(t.db, {
                ...base,
                amount: step.amount,
                source: 'promo',
                expiresAt,
                priority: step.priority,
                idempotencyKey: ik,
                now,
              })
              model.lots.push({
                id: r.grantId,
                remaining: step.amount,
                expiresAt: expiresAt?.getTime() ?? null,
                priority: step.priority,
              })
              break
            }
            case 'consume': {
              const taken = model.take(step.amount, clock)
              const r = await consume(t.db, {
                ...base,
                amount: step.amount,
                idempotencyKey: ik,
                now,
              }).catch((e: { code?: string }) => e)
              expect('entryId' in r).toBe(taken !== null)
              break
            }
            case 'reserve': {
              const taken = model.take(step.amount, clock)
              const r = await reserve(t.db, {
                ...base,
                amount: step.amount,
                ttlSeconds: step.ttl,
                idempotencyKey: ik,
                now,
              }).catch((e: { code?: string }) => e)
              expect('holdId' in r).toBe(taken !== null)
              if ('holdId' in r && taken) {
                model.holds.push({
                  id: r.holdId,
                  amount: step.amount,
                  allocations: taken,
                  expiresAt: clock + step.ttl * 1000,
                  open: true,
                })
              }
              break
            }
            case 'settle':
            case 'release': {
              const hold = model.holds[step.hold % Math.max(1, model.holds.length)]
              if (!hold) break
              const input = { ...base, holdId: hold.id, idempotencyKey: ik, now }
              const r =
                step.op === 'settle'
                  ? await settle(t.db, { ...input, amount: step.actual }).catch(
                      (e: { code?: string }) => e,
                    )
                  : await release(t.db, input).catch((e: { code?: string }) => e)
              expect('entryId' in r).toBe(hold.open)
              if (!hold.open) break
              hold.open = false
              const actual = step.op === 'settle' ? step.actual : 0
              const spent = Math.min(actual, hold.amount)
              let toCharge = spent
              const back = hold.allocations.flatMap((a) => {
                const s = Math.min(a.amount, toCharge)
                toCharge -= s
                return a.amount > s ? [{ lotId: a.lotId, amount: a.amount - s }] : []
              })
              model.giveBack(back, clock)
              const overage = actual - hold.amount
              if (overage > 0 && model.available(clock) >= overage) model.take(overage, clock)
              break
            }
            case 'wait':
              clock += step.seconds * 1000
              break
          }
          model.sweep(clock)
          const balance = await getBalance(t.db, {
            projectId,
            telegramUserId: 7,
            now: new Date(clock),
          }).catch(() => null)
          if (balance) {
            expect(balance.available).toBe(model.available(clock))
            expect(balance.held).toBe(model.held())
            const liveLots = model.lots
              .filter((l) => model.live(l, clock) && l.remaining > 0)
              .map((l) => [l.id, l.remaining])
              .sort((a, b) => a[0]! - b[0]!)
            const engineLots = balance.lots
              .filter((l) => l.remaining > 0)
              .map((l) => [l.id, l.remaining])
            expect(engineLots.sort((a, b) => a[0]! - b[0]!)).toEqual(liveLots)
          }
        }
        expect(await ledgerMismatches(t.db)).toEqual([])
      }),
      { numRuns: 40 },
    )
  })
})
