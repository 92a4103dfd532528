import { type Db, rows, type Tx } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { type LockedCustomer, lockCustomerById } from './customers.ts'
import { appendEntry } from './entries.ts'
import { parseAllocations, releaseHeldCredits } from './held.ts'
import type { Allocation } from './lots.ts'
import { transact } from './transaction.ts'

/**
 * Writes the ledger entries for every hold and lot of this customer that expired by `now`:
 * holds first (their credits go back to live lots), then lots. Reads never wait for this —
 * they stop counting expired lots and holds at their instant — but the hot path runs it when the
 * customer's cached `nextExpiryAt` has passed, so the cached balance is exact before any change.
 */
export async function sweepExpired(tx: Tx, customer: LockedCustomer, now: Date): Promise<void> {
  if (!customer.nextExpiryAt || customer.nextExpiryAt > now) return
  const at = now.toISOString()
  const holds = await rows<{
    id: string
    amount: string
    allocations: Allocation[]
    expires_at: string
  }>(
    tx,
    sql`select id, amount, allocations, expires_at from holds
        where project_id = ${customer.projectId} and customer_id = ${customer.id}
          and status = 'active' and expires_at <= ${at}::timestamptz
        order by expires_at, created_at, id`,
  )
  for (const hold of holds) {
    await releaseHeldCredits(
      tx,
      customer,
      { id: hold.id, amount: Number(hold.amount), allocations: parseAllocations(hold.allocations) },
      { kind: 'hold_expire', now },
      {
        reason: 'Hold expired unsettled',
        actor: 'system',
        idempotencyKey: null,
        metadata: { expiredAt: new Date(hold.expires_at).toISOString() },
      },
    )
  }
  // An expired lot's unspent value is recognised with its expiry (breakage; issue 14).
  const lots = await rows<{ id: string; remaining: string; expires_at: string; value: string }>(
    tx,
    sql`with due as (
          select id, remaining, expires_at, value_remaining_micros from grants
          where project_id = ${customer.projectId} and customer_id = ${customer.id}
            and closed_at is null and expires_at <= ${at}::timestamptz
        )
        update grants set remaining = 0, value_remaining_micros = 0, closed_at = ${at}::timestamptz
        from due where grants.project_id = ${customer.projectId} and grants.id = due.id
        returning due.id, due.remaining, due.expires_at, due.value_remaining_micros as value`,
  )
  for (const lot of lots) {
    const remaining = Number(lot.remaining)
    if (remaining === 0) continue
    await appendEntry(tx, customer, {
      kind: 'expire',
      amount: -remaining,
      grantId: Number(lot.id),
      lots: [],
      reason: 'Credits expired',
      actor: 'system',
      metadata: { expiredAt: new Date(lot.expires_at).toISOString() },
      revenueAdjustMicros: Number(lot.value),
    })
  }
  const [next] = await rows<{ next: string | null }>(
    tx,
    sql`update customers set next_expiry_at = least(
          (select min(expires_at) from grants where project_id = ${customer.projectId}
             and customer_id = ${customer.id} and remaining > 0 and closed_at is null),
          (select min(expires_at) from holds where project_id = ${customer.projectId}
             and customer_id = ${customer.id} and status = 'active'))
        where project_id = ${customer.projectId} and id = ${customer.id}
        returning next_expiry_at as next`,
  )
  customer.nextExpiryAt = next?.next ? new Date(next.next) : null
}

/**
 * The expiry job: writes the entries for customers whose lots or holds expired. Safe on many
 * replicas at once: `SKIP LOCKED` hands each customer to one of them.
 */
export async function expireDue(
  db: Db,
  input: { now?: Date; batchSize?: number } = {},
): Promise<number> {
  const now = input.now ?? new Date()
  const at = now.toISOString()
  const due = await rows<{ project_id: string; id: string }>(
    db,
    sql`select project_id, id from customers where next_expiry_at <= ${at}::timestamptz
        order by next_expiry_at limit ${input.batchSize ?? 500}`,
  )
  let swept = 0
  for (const row of due) {
    // One short transaction per customer; another replica already on it is skipped, not waited for.
    swept += await transact(db, async (tx) => {
      const [locked] = await rows<{ id: string }>(
        tx,
        sql`select id from customers where project_id = ${row.project_id} and id = ${row.id}
              and next_expiry_at <= ${at}::timestamptz for update skip locked`,
      )
      if (!locked) return 0
      await sweepExpired(tx, await lockCustomerById(tx, row.project_id, Number(row.id)), now)
      return 1
    })
  }
  return swept
}
