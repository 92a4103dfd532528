import { rows, type Tx } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { CostCapReached } from '../errors.ts'
import type { LockedCustomer } from '../ledger/customers.ts'

/**
 * Cost caps: the most a customer's metered acts may cost per day or month, in the project's time
 * zone. The caps that apply to a customer are their own overrides if they have any (an override
 * wins over everything else), else every project cap and every cap of a product they hold (a
 * paid purchase or a live subscription of it). Checked under the customer lock, in the same
 * transaction as the write, so two concurrent acts cannot both pass the last micro-dollar.
 */

export interface AppliedCap {
  id: string
  scope: 'project' | 'product' | 'customer'
  productKey: string | null
  period: 'day' | 'month'
  capMicros: number
  spentMicros: number
  /** When the period ends (the cap resets), an instant. */
  resetsAt: Date
}

/** The caps that apply to the customer now, each with what the customer spent in its period. */
export async function capsFor(tx: Tx, customer: LockedCustomer, now: Date): Promise<AppliedCap[]> {
  const at = now.toISOString()
  const found = await rows<{
    id: string
    scope: AppliedCap['scope']
    product_key: string | null
    period: AppliedCap['period']
    cap_micros: string
    spent: string
    resets_at: string | Date
  }>(
    tx,
    sql`with tz as (select time_zone from projects where id = ${customer.projectId}),
      applicable as (
        select c.* from cost_caps c
        where c.project_id = ${customer.projectId} and (
          (c.scope = 'customer' and c.customer_id = ${customer.id})
          or (not exists (select 1 from cost_caps o where o.project_id = ${customer.projectId}
                and o.scope = 'customer' and o.customer_id = ${customer.id})
              and (c.scope = 'project'
                or (c.scope = 'product' and (
                  exists (select 1 from payments p where p.project_id = c.project_id
                    and p.customer_id = ${customer.id} and p.product_key = c.product_key and p.status = 'paid')
                  or exists (select 1 from subscriptions s where s.project_id = c.project_id
                    and s.customer_id = ${customer.id} and s.product_key = c.product_key
                    and s.status in ('active', 'canceled') and s.current_period_end > ${at}::timestamptz))))))
      ),
      bounds as (
        select a.*,
          date_trunc(a.period, ${at}::timestamptz at time zone (select time_zone from tz))
            at time zone (select time_zone from tz) as starts_at,
          (date_trunc(a.period, ${at}::timestamptz at time zone (select time_zone from tz))
            + case a.period when 'day' then interval '1 day' else interval '1 month' end)
            at time zone (select time_zone from tz) as resets_at
        from applicable a
      )
      select b.id, b.scope, b.product_key, b.period, b.cap_micros, b.resets_at,
        coalesce((select sum(e.cost_micros) from ledger_entries e
          where e.project_id = ${customer.projectId} and e.customer_id = ${customer.id}
            and e.cost_micros is not null and e.created_at >= b.starts_at), 0) as spent
      from bounds b order by b.cap_micros asc, b.id`,
  )
  return found.map((c) => ({
    id: c.id,
    scope: c.scope,
    productKey: c.product_key,
    period: c.period,
    capMicros: Number(c.cap_micros),
    spentMicros: Number(c.spent),
    resetsAt: new Date(c.resets_at),
  }))
}

/**
 * Refuses (`COST_CAP_REACHED`, with `resetsAt`) when `expectedCostMicros` more would take the
 * customer past any cap that applies; reaching the cap exactly is allowed. The reserve path calls
 * it with the estimate's expected cost; `appendEntry` calls it for every consume with a cost.
 * The caller holds the customer lock.
 */
export async function checkCostCap(
  tx: Tx,
  customer: LockedCustomer,
  expectedCostMicros: number,
  now: Date,
): Promise<void> {
  if (expectedCostMicros <= 0) return
  for (const cap of await capsFor(tx, customer, now)) {
    if (cap.spentMicros + expectedCostMicros > cap.capMicros) {
      throw new CostCapReached(
        cap.id,
        cap.scope,
        cap.period,
        cap.capMicros,
        cap.spentMicros,
        expectedCostMicros,
        cap.resetsAt.toISOString(),
      )
    }
  }
}
