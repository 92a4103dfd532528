import { type Executor, projects, rows } from '@e-stars/db'
import { eq, sql } from 'drizzle-orm'
import { InvalidInput, NotFound } from '../errors.ts'

export interface OverviewInput {
  projectId: string
  /** Inclusive start and exclusive end of the period. */
  from: Date
  to: Date
  topConsumers?: number | undefined
}

export interface OverviewDay {
  /** The day in the project's time zone, `YYYY-MM-DD`. */
  day: string
  starsEarned: number
  starsRefunded: number
  creditsSold: number
  creditsConsumed: number
}

const MAX_DAYS = 400

/** Credits a ledger entry spent: consumption, and the charged part of a settled hold. */
const spent = sql`case when e.kind in ('consume', 'shortfall') then -e.amount
  when e.kind = 'settle' then -(e.amount + e.held_change) else 0 end`

/**
 * Revenue and usage for a period, from the payments and the ledger themselves (no counters that
 * could drift): Stars earned and refunded, net, credits sold vs consumed, paying customers, top
 * consumers, and the same per day in the project's time zone.
 */
export async function getOverview(db: Executor, input: OverviewInput) {
  if (!(input.from < input.to)) throw new InvalidInput('from', 'must be before to')
  if (input.to.getTime() - input.from.getTime() > MAX_DAYS * 86_400_000)
    throw new InvalidInput('to', `a period is at most ${MAX_DAYS} days`)
  const [project] = await db
    .select({ timeZone: projects.timeZone })
    .from(projects)
    .where(eq(projects.id, input.projectId))
  if (!project) throw new NotFound('Project', input.projectId)
  const tz = project.timeZone
  const from = input.from.toISOString()
  const to = input.to.toISOString()
  const inPeriod = (column: SQL_Column) =>
    sql`${sql.raw(column)} >= ${from}::timestamptz and ${sql.raw(column)} < ${to}::timestamptz`

  const [totals] = await rows<{
    earned: string | null
    refunded: string | null
    paying: string
    payments: string
    refunds: string
  }>(
    db,
    sql`select
          (select sum(amount_stars) from payments where project_id = ${input.projectId}
             and status <> 'unmatched' and ${inPeriod('paid_at')}) as earned,
          (select sum(amount_stars) from payments where project_id = ${input.projectId}
             and status = 'refunded' and ${inPeriod('refunded_at')}) as refunded,
          (select count(distinct customer_id) from payments where project_id = ${input.projectId}
             and status <> 'unmatched' and ${inPeriod('paid_at')}) as paying,
          (select count(*) from payments where project_id = ${input.projectId}
             and status <> 'unmatched' and ${inPeriod('paid_at')}) as payments,
          (select count(*) from payments where project_id = ${input.projectId}
             and status = 'refunded' and ${inPeriod('refunded_at')}) as refunds`,
  )
  const [credits] = await rows<{
    sold: string | null
    granted: string | null
    consumed: string | null
    shortfalls: string | null
    unpaid: string | null
    debt: string | null
  }>(
    db,
    sql`select
          (select sum(amount) from grants where project_id = ${input.projectId}
             and source in ('payment', 'renewal') and ${inPeriod('created_at')}) as sold,
          (select sum(amount) from grants where project_id = ${input.projectId}
             and source not in ('payment', 'renewal') and ${inPeriod('created_at')}) as granted,
          (select sum(${spent}) from ledger_entries e where e.project_id = ${input.projectId}
             and e.kind in ('consume', 'settle', 'shortfall') and ${inPeriod('e.created_at')}) as consumed,
          (select count(*) from ledger_entries e where e.project_id = ${input.projectId}
             and e.kind = 'shortfall' and ${inPeriod('e.created_at')}) as shortfalls,
          (select sum((e.metadata->>'unpaidCredits')::int8) from ledger_entries e
             where e.project_id = ${input.projectId}
             and e.kind = 'shortfall' and ${inPeriod('e.created_at')}) as unpaid,
          (select sum(e.debt_change) from ledger_entries e where e.project_id = ${input.projectId}
             and e.kind = 'shortfall' and ${inPeriod('e.created_at')}) as debt`,
  )
  const top = await rows<{
    telegram_user_id: string
    username: string | null
    first_name: string | null
    consumed: string
  }>(
    db,
    sql`select c.telegram_user_id, c.username, c.first_name, t.consumed from (
          select e.customer_id, sum(${spent}) as consumed from ledger_entries e
          where e.project_id = ${input.projectId} and e.kind in ('consume', 'settle', 'shortfall')
            and ${inPeriod('e.created_at')}
          group by e.customer_id order by consumed desc limit ${input.topConsumers ?? 10}
        ) t join customers c on c.project_id = ${input.projectId} and c.id = t.customer_id
        where t.consumed > 0
        order by t.consumed desc`,
  )
  const dayOf = (column: string) =>
    sql`to_char(${sql.raw(column)} at time zone ${tz}, 'YYYY-MM-DD')`
  const daily = await rows<{ day: string; metric: string; value: string }>(
    db,
    sql`select ${dayOf('paid_at')} as day, 'earned' as metric, sum(amount_stars) as value from payments
          where project_id = ${input.projectId} and status <> 'unmatched' and ${inPeriod('paid_at')} group by 1
        union all
        select ${dayOf('refunded_at')}, 'refunded', sum(amount_stars) from payments
          where project_id = ${input.projectId} and status = 'refunded' and ${inPeriod('refunded_at')} group by 1
        union all
        select ${dayOf('created_at')}, 'sold', sum(amount) from grants
          where project_id = ${input.projectId} and source in ('payment', 'renewal') and ${inPeriod('created_at')} group by 1
        union all
        select ${dayOf('e.created_at')}, 'consumed', sum(${spent}) from ledger_entries e
          where e.project_id = ${input.projectId} and e.kind in ('consume', 'settle', 'shortfall') and ${inPeriod('e.created_at')} group by 1`,
  )
  const days = new Map<string, OverviewDay>()
  for (const day of daysBetween(input.from, input.to, tz)) {
    days.set(day, { day, starsEarned: 0, starsRefunded: 0, creditsSold: 0, creditsConsumed: 0 })
  }
  const field = {
    earned: 'starsEarned',
    refunded: 'starsRefunded',
    sold: 'creditsSold',
    consumed: 'creditsConsumed',
  } as const
  for (const row of daily) {
    const day = days.get(row.day)
    const key = field[row.metric as keyof typeof field]
    if (day && key) day[key] += Number(row.value)
  }
  const earned = Number(totals?.earned ?? 0)
  const refunded = Number(totals?.refunded ?? 0)
  return {
    from,
    to,
    timeZone: tz,
    starsEarned: earned,
    starsRefunded: refunded,
    starsNet: earned - refunded,
    payments: Number(totals?.payments ?? 0),
    refunds: Number(totals?.refunds ?? 0),
    payingCustomers: Number(totals?.paying ?? 0),
    creditsSold: Number(credits?.sold ?? 0),
    creditsGranted: Number(credits?.granted ?? 0),
    creditsConsumed: Number(credits?.consumed ?? 0),
    /** Work done beyond what was paid (issue 19): how often, the credits it cost, the part now owed. */
    shortfalls: {
      count: Number(credits?.shortfalls ?? 0),
      credits: Number(credits?.unpaid ?? 0),
      debt: Number(credits?.debt ?? 0),
    },
    topConsumers: top.map((t) => ({
      telegramUserId: Number(t.telegram_user_id),
      username: t.username,
      firstName: t.first_name,
      consumed: Number(t.consumed),
    })),
    days: [...days.values()],
  }
}

type SQL_Column = string

/** The calendar days (in `timeZone`) that the period touches, in order. */
export function daysBetween(from: Date, to: Date, timeZone: string): string[] {
  const format = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  })
  const days: string[] = []
  for (let t = from.getTime(); t < to.getTime(); t += 3_600_000) {
    const day = format.format(new Date(t))
    if (days[days.length - 1] !== day) days.push(day)
  }
  const last = format.format(new Date(to.getTime() - 1))
  if (days[days.length - 1] !== last) days.push(last)
  return days
}

export type Overview = Awaited<ReturnType<typeof getOverview>>
