import { type Executor, rows, type Tx } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import type { LockedCustomer } from '../ledger/customers.ts'
import { emitLatched } from '../ledger/events.ts'

/**
 * Margin alerts, as events (`events.poll`, the console, the bot's nudges):
 * - `margin.unpriced_model` — raised by `costOfAct` (cost.ts), once per customer and model;
 * - `margin.customer_unprofitable` — a customer's cost passed their revenue: checked by
 *   `appendEntry` after an act with a cost, at most once a day per customer;
 * - `margin.below_threshold` — a day's gross margin fell below the project's `marginAlertPercent`
 *   (the project, or one feature): `checkMarginAlerts`, run by the job after each day, once per day
 *   and subject.
 */

/** After an act with a cost: one event when the customer's lifetime cost passes their revenue. */
export async function noteCustomerMargin(
  tx: Tx,
  customer: LockedCustomer,
  now: Date,
): Promise<void> {
  const [totals] = await rows<{ revenue: string; cost: string }>(
    tx,
    sql`select coalesce(sum(revenue_micros) filter (where kind <> 'hold'), 0) as revenue,
          coalesce(sum(cost_micros), 0) as cost
        from ledger_entries where project_id = ${customer.projectId} and customer_id = ${customer.id}`,
  )
  const revenue = Number(totals!.revenue)
  const cost = Number(totals!.cost)
  if (cost <= revenue) return
  await emitLatched(tx, {
    projectId: customer.projectId,
    customerId: customer.id,
    condition: 'margin:unprofitable',
    windowKey: now.toISOString().slice(0, 10),
    type: 'margin.customer_unprofitable',
    payload: {
      telegramUserId: customer.telegramUserId,
      revenueMicros: revenue,
      costMicros: cost,
    },
  })
}

/**
 * For the project's day `day` (YYYY-MM-DD in its time zone): an event for the project and for
 * each feature whose gross margin % fell below the project's alert percentage. Idempotent: a
 * day's alert for a subject is written once. Returns the number of events written.
 */
export async function checkMarginAlerts(
  db: Executor,
  input: { projectId: string; day: string },
): Promise<number> {
  const written = await rows<{ id: string }>(
    db,
    sql`with serial as materialized (
          select pg_advisory_xact_lock(hashtextextended(${`events:${input.projectId}`}, 0))
        ),
        project as (
          select time_zone, margin_alert_percent from projects
          where id = ${input.projectId} and margin_alert_percent is not null
        ),
        acts as (
          select coalesce(e.metadata->>'feature', '') as feature,
            coalesce(sum(e.revenue_micros) filter (where e.kind <> 'hold'), 0) as revenue,
            coalesce(sum(e.cost_micros), 0) as cost
          from ledger_entries e, project p
          where e.project_id = ${input.projectId}
            and to_char(e.created_at at time zone p.time_zone, 'YYYY-MM-DD') = ${input.day}
            and e.created_at >= (${input.day}::date - 1)::timestamptz
            and e.created_at < (${input.day}::date + 2)::timestamptz
          group by grouping sets ((), (1))
        ),
        subjects as (
          select case when feature is null then 'project' else 'feature' end as subject,
            nullif(feature, '') as feature, revenue, cost
          from acts where (feature is null or feature <> '') and cost > 0
        ),
        breached as (
          select s.*, p.margin_alert_percent from subjects s, project p
          where (s.revenue - s.cost) * 100 < p.margin_alert_percent * s.revenue or s.revenue = 0
        )
        insert into events (project_id, customer_id, type, payload)
        select ${input.projectId}, null, 'margin.below_threshold',
          jsonb_build_object('day', ${input.day}::text, 'subject', b.subject, 'feature', b.feature,
            'revenueMicros', b.revenue, 'costMicros', b.cost, 'thresholdPercent', b.margin_alert_percent)
        from breached b, serial
        where not exists (select 1 from events x where x.project_id = ${input.projectId}
          and x.type = 'margin.below_threshold' and x.payload->>'day' = ${input.day}::text
          and x.payload->>'subject' = b.subject
          and coalesce(x.payload->>'feature', '') = coalesce(b.feature, ''))
        returning id`,
  )
  return written.length
}

/** Days checked back from the last completed one, so a day missed while no replica ran is caught up. */
const CATCH_UP_DAYS = 2

/**
 * The daily job's one pass (apps/server, margin-alerts-job.ts): for each project with a margin
 * alert set, `checkMarginAlerts` for its last completed days in its own time zone. Safe to run
 * often and on many replicas: a day's alert for a subject is written once.
 */
export async function checkDueMarginAlerts(
  db: Executor,
  input: { now?: Date | undefined } = {},
): Promise<{ projects: number; events: number }> {
  const now = (input.now ?? new Date()).toISOString()
  const due = await rows<{ id: string; day: string }>(
    db,
    sql`select p.id, to_char((${now}::timestamptz at time zone p.time_zone)::date - d.n, 'YYYY-MM-DD') as day
        from projects p, generate_series(1, ${CATCH_UP_DAYS}::int) as d(n)
        where p.margin_alert_percent is not null
        order by p.id, d.n desc`,
  )
  let events = 0
  for (const { id, day } of due) events += await checkMarginAlerts(db, { projectId: id, day })
  return { projects: new Set(due.map((d) => d.id)).size, events }
}
