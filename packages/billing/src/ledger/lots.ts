import { rows, type Tx } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { InsufficientCredits } from '../errors.ts'
import type { LockedCustomer } from './customers.ts'
import type { LotChange } from './entries.ts'

/** Burn order: lots expiring soonest first, then higher priority, then oldest. */
export const burnOrder = sql`expires_at asc nulls last, priority desc, id asc`

export interface Allocation {
  lotId: number
  amount: number
}

/**
 * Picks `amount` credits from the customer's live lots in burn order. Reads only as many lots as
 * it needs. Throws `InsufficientCredits` when the live lots hold less.
 */
export async function takeFromLots(
  tx: Tx,
  customer: LockedCustomer,
  amount: number,
  now: Date,
): Promise<Allocation[]> {
  // With no expiry due, the cached balance is exact: refuse without touching the lots.
  if (customer.available < amount) throw new InsufficientCredits(customer.available, amount)
  const lots = await rows<{ id: string; remaining: string; running: string }>(
    tx,
    sql`select id, remaining, sum(remaining) over (order by ${burnOrder}) as running
        from grants
        where project_id = ${customer.projectId} and customer_id = ${customer.id} and remaining > 0
          and (expires_at is null or expires_at > ${now.toISOString()}::timestamptz)
        order by ${burnOrder}`,
  )
  const allocations: Allocation[] = []
  let needed = amount
  for (const lot of lots) {
    if (needed === 0) break
    const take = Math.min(Number(lot.remaining), needed)
    allocations.push({ lotId: Number(lot.id), amount: take })
    needed -= take
  }
  if (needed > 0) throw new InsufficientCredits(amount - needed, amount)
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
 * expire with it, and the entry records how many.
 */
export async function returnToLots(
  tx: Tx,
  customer: LockedCustomer,
  back: Allocation[],
  now: Date,
): Promise<{ returned: LotChange[]; expired: number }> {
  if (back.length === 0) return { returned: [], expired: 0 }
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
  const returned = back.filter((b) => liveIds.has(b.lotId))
  const expired = back.filter((b) => !liveIds.has(b.lotId)).reduce((s, b) => s + b.amount, 0)
  return { returned, expired }
}

export const total = (changes: Array<{ amount: number }>) =>
  changes.reduce((s, c) => s + c.amount, 0)
