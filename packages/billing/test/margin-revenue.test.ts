import { type Db, grants, payments, rows } from '@e-stars/db'
import { and, eq, sql } from 'drizzle-orm'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  consume,
  expireDue,
  grantCredits,
  lotValueOf,
  paidLotValue,
  release,
  reserve,
  settle,
  valueOfAllocations,
  valueRemaining,
} from '../src/index.ts'
import { lockCustomer } from '../src/ledger/customers.ts'
import { takeFromLots } from '../src/ledger/lots.ts'
import { transact } from '../src/ledger/transaction.ts'
import { revokePayment } from '../src/payments/refunds.ts'
import { createProject, key, ledgerMismatches, useDatabase } from './fixtures.ts'

/**
 * Revenue recognition (issue 14): every credit burned recognises its lot's value, exactly. Over
 * random sequences the books always balance to the micro-dollar:
 *   recognised revenue + unspent lot value + value in open holds + value of refunded lots
 *     = value of all lots.
 */
const t = useDatabase()
const USER = 7_001
const DAY = 86_400_000
const START = new Date('2026-03-01T00:00:00Z')

type Op =
  | { op: 'paid'; credits: number; valueMicros: number; expiresInDays: number | null }
  | { op: 'free'; credits: number }
  | { op: 'consume'; credits: number }
  | { op: 'hold'; credits: number }
  | { op: 'settle'; which: number; cost: number }
  | { op: 'release'; which: number }
  | { op: 'advance'; days: number }
  | { op: 'refund'; which: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('paid' as const),
    credits: fc.integer({ min: 1, max: 1000 }),
    valueMicros: fc.integer({ min: 0, max: 50_000_000 }),
    expiresInDays: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
  }),
  fc.record({ op: fc.constant('free' as const), credits: fc.integer({ min: 1, max: 500 }) }),
  fc.record({ op: fc.constant('consume' as const), credits: fc.integer({ min: 1, max: 400 }) }),
  fc.record({ op: fc.constant('hold' as const), credits: fc.integer({ min: 1, max: 300 }) }),
  fc.record({
    op: fc.constant('settle' as const),
    which: fc.nat(),
    cost: fc.integer({ min: 0, max: 400 }),
  }),
  fc.record({ op: fc.constant('release' as const), which: fc.nat() }),
  fc.record({ op: fc.constant('advance' as const), days: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ op: fc.constant('refund' as const), which: fc.nat() }),
)

async function paidLot(
  db: Db,
  projectId: string,
  credits: number,
  valueMicros: number,
  now: Date,
  expiresAt: Date | null,
) {
  const charge = `charge-${key()}`
  const [payment] = await db
    .insert(payments)
    .values({
      projectId,
      telegramPaymentChargeId: charge,
      telegramUserId: USER,
      amountStars: 100,
      invoicePayload: 'test',
      status: 'paid',
      recordedVia: 'api',
      paidAt: now,
    })
    .returning({ id: payments.id })
  const granted = await grantCredits(db, {
    projectId,
    telegramUserId: USER,
    amount: credits,
    reason: 'paid pack',
    source: 'payment',
    actor: 'test',
    idempotencyKey: key(),
    paymentId: payment!.id,
    valueMicros,
    expiresAt,
    now,
  })
  const [row] = await rows<{ customer_id: string }>(
    db,
    sql`select customer_id from grants where project_id = ${projectId} and id = ${granted.grantId}`,
  )
  await db
    .update(payments)
    .set({ customerId: Number(row!.customer_id) })
    .where(and(eq(payments.projectId, projectId), eq(payments.id, payment!.id)))
  return charge
}

/** The four sides of the identity, summed in the database. */
async function books(db: Db, projectId: string) {
  const [r] = await rows<{
    lot_value: string
    unspent: string
    stored_unspent_mismatch: string
    recognised: string
    deferred: string
    refunded: string
  }>(
    db,
    sql`select
      (select coalesce(sum(value_micros), 0) from grants where project_id = ${projectId}) as lot_value,
      (select coalesce(sum(value_remaining_micros), 0) from grants where project_id = ${projectId}) as unspent,
      (select count(*) from grants where project_id = ${projectId}
         and value_remaining_micros <> value_micros - div(value_micros::numeric * (amount - remaining), amount)::int8)
         as stored_unspent_mismatch,
      (select coalesce(sum(revenue_micros), 0) from ledger_entries
         where project_id = ${projectId} and kind <> 'hold') as recognised,
      (select coalesce(sum(e.revenue_micros), 0) from ledger_entries e
         join holds h on h.project_id = e.project_id and h.id = e.hold_id
         where e.project_id = ${projectId} and e.kind = 'hold' and h.status = 'active') as deferred,
      (select coalesce(sum(g.value_micros), 0) from grants g
         join payments p on p.project_id = g.project_id and p.id = g.payment_id
         where g.project_id = ${projectId} and p.status = 'refunded') as refunded`,
  )
  return {
    lotValue: Number(r!.lot_value),
    unspent: Number(r!.unspent),
    storedUnspentMismatch: Number(r!.stored_unspent_mismatch),
    recognised: Number(r!.recognised),
    deferred: Number(r!.deferred),
    refunded: Number(r!.refunded),
  }
}

const expected = (e: unknown) => e instanceof Error && 'code' in e

async function run(db: Db, projectId: string, ops: Op[]) {
  let now = START
  const holdIds: string[] = []
  const charges: string[] = []
  const base = { projectId, telegramUserId: USER, actor: 'test', reason: 'op' }
  for (const op of ops) {
    try {
      switch (op.op) {
        case 'paid':
          charges.push(
            await paidLot(
              db,
              projectId,
              op.credits,
              op.valueMicros,
              now,
              op.expiresInDays === null ? null : new Date(now.getTime() + op.expiresInDays * DAY),
            ),
          )
          break
        case 'free':
          await grantCredits(db, {
            ...base,
            amount: op.credits,
            source: 'promo',
            idempotencyKey: key(),
            now,
          })
          break
        case 'consume':
          await consume(db, { ...base, amount: op.credits, idempotencyKey: key(), now })
          break
        case 'hold':
          holdIds.push(
            (
              await reserve(db, {
                ...base,
                amount: op.credits,
                ttlSeconds: 86_400,
                idempotencyKey: key(),
                now,
              })
            ).holdId,
          )
          break
        case 'settle':
          if (holdIds.length)
            await settle(db, {
              projectId,
              actor: 'test',
              holdId: holdIds[op.which % holdIds.length]!,
              amount: op.cost,
              idempotencyKey: key(),
              now,
            })
          break
        case 'release':
          if (holdIds.length)
            await release(db, {
              projectId,
              actor: 'test',
              holdId: holdIds[op.which % holdIds.length]!,
              idempotencyKey: key(),
              now,
            })
          break
        case 'advance':
          now = new Date(now.getTime() + op.days * DAY)
          await expireDue(db, { now })
          break
        case 'refund':
          if (charges.length) {
            const charge = charges[op.which % charges.length]!
            await db.transaction((tx) =>
              revokePayment(tx, {
                projectId,
                telegramPaymentChargeId: charge,
                now,
                by: 'test',
                reason: 'refund',
              }),
            )
          }
          break
      }
    } catch (error) {
      // Refusals (insufficient credits, a hold already closed) are part of the sequence.
      if (!expected(error)) throw error
    }
  }
  return now
}

describe('revenue recognition', () => {
  it('the last credit of a lot takes all its remaining value; takes and returns are exact', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.array(fc.integer({ min: 1, max: 1000 }), { maxLength: 30 }),
        (value, amount, takes) => {
          let remaining = amount
          let recognised = 0
          for (const take of takes) {
            const n = Math.min(take, remaining)
            recognised +=
              valueRemaining(value, amount, remaining) -
              valueRemaining(value, amount, remaining - n)
            remaining -= n
          }
          expect(recognised + valueRemaining(value, amount, remaining)).toBe(value)
          expect(valueRemaining(value, amount, 0)).toBe(0)
          expect(valueRemaining(value, amount, amount)).toBe(value)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('over random lots, consumes, holds, settles, expiries and refunds the books balance exactly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
        const projectId = await createProject(t.db)
        await run(t.db, projectId, ops)
        const b = await books(t.db, projectId)
        expect(b.storedUnspentMismatch).toBe(0)
        expect(b.recognised + b.unspent + b.deferred + b.refunded).toBe(b.lotValue)
        expect(await ledgerMismatches(t.db)).toEqual([])
      }),
      { numRuns: 60 },
    )
  }, 600_000)

  it('burn order decides which lot is recognised: the soonest-expiring paid lot before a free one', async () => {
    const projectId = await createProject(t.db)
    const now = START
    await grantCredits(t.db, {
      projectId,
      telegramUserId: USER,
      amount: 100,
      reason: 'free',
      source: 'promo',
      actor: 'test',
      idempotencyKey: key(),
      now,
    })
    // Paid: 100 credits worth 1.30 USD, expiring first, so it burns first.
    await paidLot(t.db, projectId, 100, 1_300_000, now, new Date(now.getTime() + 5 * DAY))
    const first = await consume(t.db, {
      projectId,
      telegramUserId: USER,
      amount: 30,
      reason: 'a',
      actor: 'test',
      idempotencyKey: key(),
      now,
    })
    // 70 more paid, then 50 of the free lot: only the paid part earns.
    const second = await consume(t.db, {
      projectId,
      telegramUserId: USER,
      amount: 120,
      reason: 'b',
      actor: 'test',
      idempotencyKey: key(),
      now,
    })
    const revenue = await rows<{ id: string; revenue_micros: string }>(
      t.db,
      sql`select id, revenue_micros from ledger_entries where project_id = ${projectId}
          and id in (${first.entryId}, ${second.entryId}) order by id`,
    )
    expect(revenue.map((r) => Number(r.revenue_micros))).toEqual([390_000, 910_000])
    const lots = await t.db
      .select({ source: grants.source, left: grants.valueRemainingMicros })
      .from(grants)
      .where(eq(grants.projectId, projectId))
    expect(lots.find((l) => l.source === 'payment')!.left).toBe(0)
  })

  it('a refund reverses the revenue its lot earned, and the chain still verifies', async () => {
    const { verifyLedger } = await import('../src/index.ts')
    const projectId = await createProject(t.db)
    const charge = await paidLot(t.db, projectId, 10, 1_000_000, START, null)
    await consume(t.db, {
      projectId,
      telegramUserId: USER,
      amount: 4,
      reason: 'a',
      actor: 'test',
      idempotencyKey: key(),
      now: START,
    })
    await t.db.transaction((tx) =>
      revokePayment(tx, {
        projectId,
        telegramPaymentChargeId: charge,
        now: START,
        by: 'test',
        reason: 'refund',
      }),
    )
    const [revoke] = await rows<{ revenue_micros: string }>(
      t.db,
      sql`select revenue_micros from ledger_entries where project_id = ${projectId} and kind = 'revoke'`,
    )
    expect(Number(revoke!.revenue_micros)).toBe(-400_000)
    const [net] = await rows<{ net: string }>(
      t.db,
      sql`select sum(revenue_micros) as net from ledger_entries where project_id = ${projectId}`,
    )
    expect(Number(net!.net)).toBe(0)
    expect((await verifyLedger(t.db, { projectId })).findings).toEqual([])
  })

  it('a hold defers the value of its credits; its settle recognises the charged part only', async () => {
    const projectId = await createProject(t.db)
    await paidLot(t.db, projectId, 10, 1_000_000, START, null)
    const quoted = await transact(t.db, async (tx) => {
      const customer = await lockCustomer(tx, projectId, USER)
      return valueOfAllocations(tx, customer, await takeFromLots(tx, customer, 3, START))
    })
    expect(quoted).toBe(300_000)
    const base = { projectId, actor: 'test', now: START }
    const hold = await reserve(t.db, {
      ...base,
      telegramUserId: USER,
      amount: 3,
      reason: 'estimate',
      idempotencyKey: key(),
    })
    const settled = await settle(t.db, {
      ...base,
      holdId: hold.holdId,
      amount: 2,
      idempotencyKey: key(),
    })
    const revenue = await rows<{ kind: string; revenue_micros: string }>(
      t.db,
      sql`select kind, revenue_micros from ledger_entries where project_id = ${projectId}
          and id in (${hold.entryId}, ${settled.entryId}) order by id`,
    )
    expect(revenue.map((r) => [r.kind, Number(r.revenue_micros)])).toEqual([
      ['hold', 300_000],
      ['settle', 200_000],
    ])
  })

  it('a paid lot is worth net Stars × the USD-per-Star rate: net nanostars when known, else Stars paid', async () => {
    const projectId = await createProject(t.db)
    await t.db.execute(sql`update projects set usd_per_star_micros = 12000 where id = ${projectId}`)
    const [withNet] = await t.db
      .insert(payments)
      .values({
        projectId,
        telegramPaymentChargeId: `charge-${key()}`,
        telegramUserId: USER,
        amountStars: 100,
        invoicePayload: 'test',
        status: 'paid',
        recordedVia: 'api',
        paidAt: START,
        grossNanostars: 100_000_000_000,
        commissionNanostars: 20_000_000_000,
        netNanostars: 80_000_000_000,
      })
      .returning({ id: payments.id })
    const [plain] = await t.db
      .insert(payments)
      .values({
        projectId,
        telegramPaymentChargeId: `charge-${key()}`,
        telegramUserId: USER,
        amountStars: 50,
        invoicePayload: 'test',
        status: 'paid',
        recordedVia: 'api',
        paidAt: START,
      })
      .returning({ id: payments.id })
    expect(await paidLotValue(t.db, projectId, withNet!.id)).toBe(960_000)
    expect(await paidLotValue(t.db, projectId, plain!.id)).toBe(600_000)
    // Another project's payment id is worth nothing here (wrong tenant).
    expect(await paidLotValue(t.db, await createProject(t.db), withNet!.id)).toBe(0)
    expect(lotValueOf({ usdPerStarMicros: 13_000, netNanostars: 1n })).toBe(0)
    expect(lotValueOf({ valueMicros: 5, usdPerStarMicros: 13_000, amountStars: 10 })).toBe(5)
  })
})
