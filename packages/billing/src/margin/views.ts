import { type Executor, projects, rows } from '@e-stars/db'
import { eq, type SQL, sql } from 'drizzle-orm'
import { InvalidInput, NotFound } from '../errors.ts'

/**
 * Margin views: revenue, cost, gross margin and margin % per day, feature, model, product or
 * customer, straight from the ledger (no counters that could drift), so they agree with it to the
 * micro-dollar.
 *
 * Revenue is Σ `revenueMicros` of every entry but holds (a hold's value is deferred and
 * recognised by the entry that closes it): consumption, settles, breakage at expiry, a refund's
 * reversal (negative). Cost is Σ `costMicros`. A product is the product of the first lot the
 * entry burned (`free` for a lot no payment bought); an entry with no lot is `none`.
 */

export type MarginDimension = 'day' | 'feature' | 'model' | 'product' | 'customer'

export interface MarginInput {
  projectId: string
  from: Date
  to: Date
}

export interface MarginRow {
  key: string
  revenueMicros: number
  costMicros: number
  marginMicros: number
  /** Gross margin ÷ revenue × 100, two decimals; null when there was no revenue. */
  marginPercent: number | null
  /** Metered acts (entries carrying a cost). */
  acts: number
}

const MAX_DAYS = 400

async function periodOf(db: Executor, input: MarginInput) {
  if (!(input.from < input.to)) throw new InvalidInput('from', 'must be before to')
  if (input.to.getTime() - input.from.getTime() > MAX_DAYS * 86_400_000)
    throw new InvalidInput('to', `a period is at most ${MAX_DAYS} days`)
  const [project] = await db
    .select({ timeZone: projects.timeZone, usdPerStarSetAt: projects.usdPerStarSetAt })
    .from(projects)
    .where(eq(projects.id, input.projectId))
  if (!project) throw new NotFound('Project', input.projectId)
  return project
}

function keyOf(dimension: MarginDimension, tz: string): SQL {
  switch (dimension) {
    case 'day':
      return sql`to_char(e.created_at at time zone ${tz}, 'YYYY-MM-DD')`
    case 'feature':
      return sql`coalesce(e.metadata->>'feature', 'none')`
    case 'model':
      return sql`coalesce((e.usage->>'provider') || '/' || (e.usage->>'model'), 'none')`
    case 'product':
      return sql`coalesce((select coalesce(p.product_key, g.source) from grants g
          left join payments p on p.project_id = g.project_id and p.id = g.payment_id
          where g.project_id = e.project_id and g.id = (e.lots->0->>'lotId')::int8),
        case when e.grant_id is not null then (select coalesce(p.product_key, g.source) from grants g
          left join payments p on p.project_id = g.project_id and p.id = g.payment_id
          where g.project_id = e.project_id and g.id = e.grant_id) end, 'none')`
    case 'customer':
      return sql`(select c.telegram_user_id::text from customers c
          where c.project_id = e.project_id and c.id = e.customer_id)`
  }
}

const percent = (margin: number, revenue: number) =>
  revenue === 0 ? null : Math.round((margin * 10_000) / revenue) / 100

const toRow = (r: { key: string; revenue: string; cost: string; acts: string }): MarginRow => {
  const revenueMicros = Number(r.revenue)
  const costMicros = Number(r.cost)
  return {
    key: r.key,
    revenueMicros,
    costMicros,
    marginMicros: revenueMicros - costMicros,
    marginPercent: percent(revenueMicros - costMicros, revenueMicros),
    acts: Number(r.acts),
  }
}

/** Revenue, cost and margin of the period, grouped by one dimension (largest revenue first). */
export async function marginBreakdown(
  db: Executor,
  input: MarginInput & { by: MarginDimension; limit?: number | undefined },
): Promise<MarginRow[]> {
  const project = await periodOf(db, input)
  const key = keyOf(input.by, project.timeZone)
  const found = await rows<{ key: string; revenue: string; cost: string; acts: string }>(
    db,
    sql`select ${key} as key,
          coalesce(sum(e.revenue_micros) filter (where e.kind <> 'hold'), 0) as revenue,
          coalesce(sum(e.cost_micros), 0) as cost,
          count(e.cost_micros) as acts
        from ledger_entries e
        where e.project_id = ${input.projectId}
          and e.created_at >= ${input.from.toISOString()}::timestamptz
          and e.created_at < ${input.to.toISOString()}::timestamptz
          and (e.revenue_micros is not null or e.cost_micros is not null or e.usage is not null)
        group by 1
        order by ${input.by === 'day' ? sql`1 asc` : sql`2 desc, 3 desc, 1 asc`}
        limit ${input.limit ?? 1000}`,
  )
  return found.map(toRow)
}

export interface MarginSummary extends Omit<MarginRow, 'key'> {
  /** Cost of acts that earned nothing: free credits, free allowances, unvalued grants. */
  freeCostMicros: number
  /** Revenue taken back by refunds in the period (negative revenue entries, as a positive sum). */
  reversedMicros: number
  /** Breakage: unspent value of lots that expired. */
  breakageMicros: number
  /** Acts naming a model without a price (recorded with no cost). */
  unpricedActs: number
  /** The USD-per-Star rate is the default assumption until the operator sets their own. */
  rateIsAssumption: boolean
}

/** The period's totals, with the cost of free usage, refund reversals and breakage. */
export async function marginSummary(db: Executor, input: MarginInput): Promise<MarginSummary> {
  const project = await periodOf(db, input)
  const [r] = await rows<{
    revenue: string
    cost: string
    acts: string
    free_cost: string
    reversed: string
    breakage: string
    unpriced: string
  }>(
    db,
    sql`select
          coalesce(sum(e.revenue_micros) filter (where e.kind <> 'hold'), 0) as revenue,
          coalesce(sum(e.cost_micros), 0) as cost,
          count(e.cost_micros) as acts,
          coalesce(sum(e.cost_micros) filter (where coalesce(e.revenue_micros, 0) = 0), 0) as free_cost,
          coalesce(-sum(e.revenue_micros) filter (where e.kind = 'revoke'), 0) as reversed,
          coalesce(sum(e.revenue_micros) filter (where e.kind = 'expire'), 0) as breakage,
          count(*) filter (where (e.usage->>'unpriced')::boolean) as unpriced
        from ledger_entries e
        where e.project_id = ${input.projectId}
          and e.created_at >= ${input.from.toISOString()}::timestamptz
          and e.created_at < ${input.to.toISOString()}::timestamptz`,
  )
  const row = toRow({ key: '', revenue: r!.revenue, cost: r!.cost, acts: r!.acts })
  return {
    revenueMicros: row.revenueMicros,
    costMicros: row.costMicros,
    marginMicros: row.marginMicros,
    marginPercent: row.marginPercent,
    acts: row.acts,
    freeCostMicros: Number(r!.free_cost),
    reversedMicros: Number(r!.reversed),
    breakageMicros: Number(r!.breakage),
    unpricedActs: Number(r!.unpriced),
    rateIsAssumption: project.usdPerStarSetAt === null,
  }
}

/** Customers whose cost in the period exceeds the revenue they brought, worst first. */
export async function unprofitableCustomers(
  db: Executor,
  input: MarginInput & { limit?: number | undefined },
): Promise<MarginRow[]> {
  await periodOf(db, input)
  const found = await rows<{ key: string; revenue: string; cost: string; acts: string }>(
    db,
    sql`select c.telegram_user_id::text as key, t.revenue, t.cost, t.acts from (
          select e.customer_id,
            coalesce(sum(e.revenue_micros) filter (where e.kind <> 'hold'), 0) as revenue,
            coalesce(sum(e.cost_micros), 0) as cost, count(e.cost_micros) as acts
          from ledger_entries e
          where e.project_id = ${input.projectId}
            and e.created_at >= ${input.from.toISOString()}::timestamptz
            and e.created_at < ${input.to.toISOString()}::timestamptz
          group by e.customer_id
        ) t join customers c on c.project_id = ${input.projectId} and c.id = t.customer_id
        where t.cost > t.revenue
        order by t.revenue - t.cost asc, c.telegram_user_id asc
        limit ${input.limit ?? 100}`,
  )
  return found.map(toRow)
}

/** A breakdown as CSV (RFC 4180), amounts in micro-USD and in USD with six decimals. */
export function marginCsv(by: MarginDimension, rowsOut: MarginRow[]): string {
  const usd = (micros: number) => {
    const sign = micros < 0 ? '-' : ''
    const abs = Math.abs(micros)
    return `${sign}${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, '0')}`
  }
  const cell = (value: string) =>
    /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
  const lines = [
    [
      by,
      'revenue_micros',
      'cost_micros',
      'margin_micros',
      'revenue_usd',
      'cost_usd',
      'margin_usd',
      'margin_percent',
      'acts',
    ].join(','),
    ...rowsOut.map((r) =>
      [
        cell(r.key),
        r.revenueMicros,
        r.costMicros,
        r.marginMicros,
        usd(r.revenueMicros),
        usd(r.costMicros),
        usd(r.marginMicros),
        r.marginPercent === null ? '' : r.marginPercent.toFixed(2),
        r.acts,
      ].join(','),
    ),
  ]
  return `${lines.join('\r\n')}\r\n`
}
