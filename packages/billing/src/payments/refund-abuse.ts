import { customers, type Executor, projects, rows } from '@e-stars/db'
import { and, eq, sql } from 'drizzle-orm'
import { InvalidInput, NotFound } from '../errors.ts'
import { recordAudit } from '../identity/audit.ts'
import { transact } from '../ledger/transaction.ts'

/**
 * Refund abuse: Telegram lets a user ask for their Stars back, and "buy, use, refund" burns the
 * margin. After `limit` refunds within `windowDays`, the project either refuses new purchases at
 * pre-checkout (`refuse`: the customer keeps using what they hold) or blocks the customer
 * (`block`: no purchases and no consumption until an operator unblocks them). A null limit is off.
 */
export type RefundAbuseAction = 'refuse' | 'block'
export const REFUND_ABUSE_ACTIONS = ['refuse', 'block'] as const satisfies RefundAbuseAction[]

export interface RefundAbusePolicy {
  limit: number | null
  windowDays: number
  action: RefundAbuseAction
}

/** The schema's own bounds, checked here first so a bad value is a BAD_REQUEST naming its field. */
export const REFUND_ABUSE_BOUNDS = { maxLimit: 1000, maxWindowDays: 365 } as const

export async function getRefundAbusePolicy(
  db: Executor,
  projectId: string,
): Promise<RefundAbusePolicy> {
  const [row] = await db
    .select({
      limit: projects.refundAbuseLimit,
      windowDays: projects.refundAbuseWindowDays,
      action: projects.refundAbuseAction,
    })
    .from(projects)
    .where(eq(projects.id, projectId))
  if (!row) throw new NotFound('Project', projectId)
  return { ...row, action: row.action as RefundAbuseAction }
}

function checkPolicy(policy: Partial<RefundAbusePolicy>) {
  const { limit, windowDays, action } = policy
  if (
    limit !== undefined &&
    limit !== null &&
    (!Number.isInteger(limit) || limit < 1 || limit > REFUND_ABUSE_BOUNDS.maxLimit)
  )
    throw new InvalidInput(
      'refundAbuseLimit',
      `a whole number of refunds from 1 to ${REFUND_ABUSE_BOUNDS.maxLimit}, or null to turn it off`,
    )
  if (
    windowDays !== undefined &&
    (!Number.isInteger(windowDays) ||
      windowDays < 1 ||
      windowDays > REFUND_ABUSE_BOUNDS.maxWindowDays)
  )
    throw new InvalidInput(
      'refundAbuseWindowDays',
      `a whole number of days from 1 to ${REFUND_ABUSE_BOUNDS.maxWindowDays}`,
    )
  if (action !== undefined && !REFUND_ABUSE_ACTIONS.includes(action))
    throw new InvalidInput('refundAbuseAction', 'refuse or block')
}

/** Changes the policy (only the fields given); audited with before and after. */
export async function setRefundAbusePolicy(
  db: Executor,
  input: Partial<RefundAbusePolicy> & { projectId: string; actor: string },
): Promise<RefundAbusePolicy> {
  const { projectId, actor, ...patch } = input
  checkPolicy(patch)
  const set = Object.fromEntries(
    Object.entries({
      refundAbuseLimit: patch.limit,
      refundAbuseWindowDays: patch.windowDays,
      refundAbuseAction: patch.action,
    }).filter(([, v]) => v !== undefined),
  )
  return transact(db, async (tx) => {
    const before = await getRefundAbusePolicy(tx, projectId)
    if (Object.keys(set).length === 0) return before
    await tx.update(projects).set(set).where(eq(projects.id, projectId))
    const after = await getRefundAbusePolicy(tx, projectId)
    await recordAudit(tx, {
      projectId,
      actor,
      action: 'settings.refund_abuse',
      target: `project:${projectId}`,
      before: { ...before },
      after: { ...after },
    })
    return after
  })
}

/** Refunds within the policy's window, counted on the payments the refunds took back. */
async function recentRefunds(
  db: Executor,
  input: { projectId: string; customerId: string | number; since: Date },
) {
  const [row] = await rows<{ n: string }>(
    db,
    sql`select count(*) n from payments
        where project_id = ${input.projectId} and customer_id = ${String(input.customerId)}
          and status = 'refunded' and refunded_at >= ${input.since.toISOString()}::timestamptz`,
  )
  return Number(row?.n ?? 0)
}

export type RefundAbuseVerdict =
  | { abuse: false }
  | { abuse: true; action: RefundAbuseAction; refunds: number; limit: number; windowDays: number }

/**
 * Whether this customer has reached the project's refund limit. With `block`, blocks them in
 * the same call (the customer row's usual update, idempotent), so the next consume is refused
 * too; with `refuse`, writes nothing. Called by `precheck` before it accepts a purchase.
 */
export async function checkRefundAbuse(
  db: Executor,
  input: { projectId: string; customerId: string | number; now: Date },
): Promise<RefundAbuseVerdict> {
  const policy = await getRefundAbusePolicy(db, input.projectId)
  if (policy.limit === null) return { abuse: false }
  const since = new Date(input.now.getTime() - policy.windowDays * 86_400_000)
  const refunds = await recentRefunds(db, { ...input, since })
  if (refunds < policy.limit) return { abuse: false }
  if (policy.action === 'block')
    await db
      .update(customers)
      .set({ blockedAt: sql`coalesce(${customers.blockedAt}, now())` })
      .where(
        and(eq(customers.projectId, input.projectId), eq(customers.id, Number(input.customerId))),
      )
  return {
    abuse: true,
    action: policy.action,
    refunds,
    limit: policy.limit,
    windowDays: policy.windowDays,
  }
}

export interface CustomerRefundStats {
  customerId: string
  telegramUserId: number
  username: string | null
  /** Payments made (refunded ones included) and how many were refunded. */
  payments: number
  refunds: number
  /** refunds ÷ payments, 0 when there were none; a ratio from 0 to 1. */
  refundRate: number
  starsPaid: number
  starsRefunded: number
  debt: number
  blocked: boolean
}

const statsSelect = sql`select c.id::text customer_id, c.telegram_user_id, c.username, c.debt,
    c.blocked_at is not null blocked,
    count(p.id) payments,
    count(p.id) filter (where p.status = 'refunded') refunds,
    coalesce(sum(p.amount_stars), 0) stars_paid,
    coalesce(sum(p.amount_stars) filter (where p.status = 'refunded'), 0) stars_refunded
  from customers c
  left join payments p on p.project_id = c.project_id and p.customer_id = c.id
    and p.status in ('paid', 'refunded')`

type StatsRow = {
  customer_id: string
  telegram_user_id: string
  username: string | null
  debt: string
  blocked: boolean
  payments: string
  refunds: string
  stars_paid: string
  stars_refunded: string
}

const toStats = (r: StatsRow): CustomerRefundStats => {
  const payments = Number(r.payments)
  const refunds = Number(r.refunds)
  return {
    customerId: r.customer_id,
    telegramUserId: Number(r.telegram_user_id),
    username: r.username,
    payments,
    refunds,
    refundRate: payments === 0 ? 0 : refunds / payments,
    starsPaid: Number(r.stars_paid),
    starsRefunded: Number(r.stars_refunded),
    debt: Number(r.debt),
    blocked: r.blocked,
  }
}

/** The customer page's refund block: count, rate and debt. */
export async function getCustomerRefundStats(
  db: Executor,
  input: { projectId: string; telegramUserId: number },
): Promise<CustomerRefundStats> {
  const [row] = await rows<StatsRow>(
    db,
    sql`${statsSelect}
        where c.project_id = ${input.projectId} and c.telegram_user_id = ${input.telegramUserId}
        group by c.project_id, c.id`,
  )
  if (!row) throw new NotFound('Customer', String(input.telegramUserId))
  return toStats(row)
}

/** Customers with at least one refund, highest refund rate first (then most refunds). */
export async function listCustomersByRefundRate(
  db: Executor,
  input: { projectId: string; limit: number },
): Promise<CustomerRefundStats[]> {
  const found = await rows<StatsRow>(
    db,
    sql`${statsSelect}
        where c.project_id = ${input.projectId}
        group by c.project_id, c.id
        having count(p.id) filter (where p.status = 'refunded') > 0
        order by count(p.id) filter (where p.status = 'refunded')::numeric / count(p.id) desc,
          count(p.id) filter (where p.status = 'refunded') desc, c.id
        limit ${input.limit}`,
  )
  return found.map(toStats)
}
