import { rows, type Tx } from '@e-stars/db'
import { type SQL, sql } from 'drizzle-orm'
import { InsufficientCredits } from '../errors.ts'
import type { LockedCustomer } from './customers.ts'
import type { LotChange } from './entries.ts'

/** Burn order: lots expiring soonest first, then higher priority, then oldest. */
export const burnOrder = sql`expires_at asc nulls last, priority desc, id asc`

export interface Allocation {
  lotId: number
  amount: number
}

/** A live lot as the burn order reads it. */
export interface LiveLot {
  id: number
  remaining: number
}

/**
 * The burn order's one allocation: walks `lots` (already in burn order) and takes up to `amount`,
 * whole lots first. Every path that spends credits allocates here: consume, reserve, settle
 * overage, negative adjustments, feature charges and a refund's debt repayment. The one-statement
 * consume is its set-based form (`consumeAtOnce`), proved equal by the equivalence suite.
 */
export function allocate(lots: LiveLot[], amount: number): Allocation[] {
  const allocations: Allocation[] = []
  let needed = amount
  for (const lot of lots) {
    if (needed <= 0) break
    const take = Math.min(lot.remaining, needed)
    if (take > 0) allocations.push({ lotId: lot.id, amount: take })
    needed -= take
  }
  return allocations
}

/** The customer's live lots in burn order (optionally leaving some out). */
export async function liveLots(
  tx: Tx,
  customer: LockedCustomer,
  now: Date,
  except: SQL = sql``,
): Promise<LiveLot[]> {
  const lots = await rows<{ id: string; remaining: string }>(
    tx,
    sql`select id, remaining from grants
        where project_id = ${customer.projectId} and customer_id = ${customer.id} and remaining > 0
          and (expires_at is null or expires_at > ${now.toISOString()}::timestamptz)
          ${except}
        order by ${burnOrder}`,
  )
  return lots.map((lot) => ({ id: Number(lot.id), remaining: Number(lot.remaining) }))
}

/**
 * Picks `amount` credits from the customer's live lots in burn order. Throws
 * `InsufficientCredits` when they hold less; the caller holds the customer lock.
 */
export async function takeFromLots(
  tx: Tx,
  customer: LockedCustomer,
  amount: number,
  now: Date,
): Promise<Allocation[]> {
  // The cached balance covers every live lot: refuse without reading them.
  if (customer.available < amount) throw new InsufficientCredits(customer.available, amount)
  const allocations = allocate(await liveLots(tx, customer, now), amount)
  const taken = total(allocations)
  if (taken < amount) throw new InsufficientCredits(taken, amount)
  return allocations
}

export const debit = (allocations: Allocation[]): LotChange[] =>
  allocations.map((a) => ({ lotId: a.lotId, amount: -a.amount }))

/**
 * Splits a hold's allocations into the part that was spent (`charged`, taken in the order the
 * credits were allocated) and the part that goes back to the lots it came from.
 */
export function splitAllocations(allocations: Allocation[], charged: number): Allocation[] {
  const back: Allocation[] = []
  let toCharge = charged
  for (const allocation of allocations) {
    const spent = Math.min(allocation.amount, toCharge)
    toCharge -= spent
    if (allocation.amount > spent)
      back.push({ lotId: allocation.lotId, amount: allocation.amount - spent })
  }
  return back
}

/**
 * Returns credits to their lots. Credits whose lot expired meanwhile are not returned: they
 * expire with it, and the entry records how many. An outstanding debt is repaid first from what
 * comes back, as from a new lot (`addLot`): `repaid` of it never reaches a lot, and the entry
 * says so with `debtChange: -repaid`, so available and debt are never both above zero.
 */
export async function returnToLots(
  tx: Tx,
  customer: LockedCustomer,
  back: Allocation[],
  now: Date,
): Promise<{ returned: LotChange[]; expired: number; repaid: number }> {
  if (back.length === 0) return { returned: [], expired: 0, repaid: 0 }
  const live = await rows<{ id: string }>(
    tx,
    sql`select id from grants
        where project_id = ${customer.projectId} and customer_id = ${customer.id}
          and id in (${sql.join(
            back.map((b) => sql`${b.lotId}::int8`),
            sql`, `,
          )})
          and closed_at is null and (expires_at is null or expires_at > ${now.toISOString()}::timestamptz)`,
  )
  const liveIds = new Set(live.map((l) => Number(l.id)))
  const alive = back.filter((b) => liveIds.has(b.lotId))
  const expired = total(back) - total(alive)
  const repaid = Math.min(customer.debt, total(alive))
  // The debt takes the credits that would burn last (the end of the allocation).
  let owed = repaid
  const returned: LotChange[] = []
  for (const a of [...alive].reverse()) {
    const cut = Math.min(a.amount, owed)
    owed -= cut
    if (a.amount > cut) returned.unshift({ lotId: a.lotId, amount: a.amount - cut })
  }
  return { returned, expired, repaid }
}

export const total = (changes: Array<{ amount: number }>) =>
  changes.reduce((s, c) => s + c.amount, 0)
