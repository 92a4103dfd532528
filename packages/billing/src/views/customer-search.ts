import { type Db, type Executor, rows } from '@e-stars/db'
import { type SQL, sql } from 'drizzle-orm'
import { NotFound } from '../errors.ts'
import { customerIdOf } from '../ledger/lookup.ts'
import { listEntitlements } from '../usage/entitlements.ts'
import { customerQuotas } from './customer-app.ts'

export interface SearchCustomersInput {
  projectId: string
  /**
   * A Telegram user id (exact), `@username` (prefix), or a name: one word matches the start of
   * the username, first or last name; two words match first and last name.
   */
  query?: string | null | undefined
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string | null | undefined
  limit?: number | undefined
}

export interface CustomerSummary {
  telegramUserId: number
  username: string | null
  firstName: string | null
  lastName: string | null
  available: number
  held: number
  debt: number
  blocked: boolean
  lifetimeStars: number
  createdAt: string
  lastActiveAt: string
}

interface SummaryRow {
  id: string
  telegram_user_id: string
  username: string | null
  first_name: string | null
  last_name: string | null
  available: string
  held: string
  debt: string
  blocked_at: string | Date | null
  created_at: string | Date
  last_active_at: string | Date
  lifetime_stars: string | null
}

/** `LIKE` pattern for "starts with", with the wildcards of the input escaped. */
const prefix = (text: string) => `${text.toLowerCase().replace(/[\\%_]/g, '\\$&')}%`

/**
 * Every branch is a prefix match on a `text_pattern_ops` index (or the unique telegram id), so a
 * search stays an index scan on any number of customers. pg_trgm would allow infix matches but
 * is not available on embedded PGlite.
 */
function matchOf(query: string): SQL {
  const q = query.trim()
  if (/^\d{1,16}$/.test(q)) {
    return sql`(c.telegram_user_id = ${Number(q)}::int8 or lower(c.username) like ${prefix(q)})`
  }
  if (q.startsWith('@')) return sql`lower(c.username) like ${prefix(q.slice(1))}`
  const words = q.split(/\s+/).filter(Boolean)
  if (words.length >= 2) {
    return sql`(lower(c.first_name) like ${prefix(words[0]!)} and lower(c.last_name) like ${prefix(
      words.slice(1).join(' '),
    )})`
  }
  const p = prefix(q)
  return sql`(lower(c.username) like ${p} or lower(c.first_name) like ${p} or lower(c.last_name) like ${p})`
}

const summaryColumns = sql`c.id, c.telegram_user_id, c.username, c.first_name, c.last_name, c.available,
  c.held, c.debt, c.blocked_at, c.created_at, c.last_active_at,
  (select sum(p.amount_stars) from payments p
    where p.project_id = c.project_id and p.customer_id = c.id and p.status = 'paid') as lifetime_stars`

function toSummary(row: SummaryRow): CustomerSummary {
  return {
    telegramUserId: Number(row.telegram_user_id),
    username: row.username,
    firstName: row.first_name,
    lastName: row.last_name,
    available: Number(row.available),
    held: Number(row.held),
    debt: Number(row.debt),
    blocked: row.blocked_at !== null,
    lifetimeStars: Number(row.lifetime_stars ?? 0),
    createdAt: new Date(row.created_at).toISOString(),
    lastActiveAt: new Date(row.last_active_at).toISOString(),
  }
}

/** Newest customers first, keyset-paginated by internal id. */
export async function searchCustomers(db: Executor, input: SearchCustomersInput) {
  const limit = input.limit ?? 25
  const before = input.cursor ? Number(input.cursor) : null
  const query = input.query?.trim()
  const page = await rows<SummaryRow>(
    db,
    sql`select ${summaryColumns}
        from customers c
        where c.project_id = ${input.projectId}
          ${query ? sql`and ${matchOf(query)}` : sql``}
          ${before === null ? sql`` : sql`and c.id < ${before}::int8`}
        order by c.id desc
        limit ${limit + 1}`,
  )
  const customers = page.slice(0, limit).map(toSummary)
  const nextCursor = page.length > limit ? String(page[limit - 1]!.id) : null
  return { customers, nextCursor }
}

export type CustomerSearchPage = Awaited<ReturnType<typeof searchCustomers>>

/** The customer's profile, lifetime figures and payments, for the console's detail page. */
export async function getCustomerDetail(
  db: Executor,
  input: { projectId: string; telegramUserId: number },
) {
  const [row] = await rows<SummaryRow & { language_code: string | null; payments: string }>(
    db,
    sql`select ${summaryColumns}, c.language_code,
          (select count(*) from payments p where p.project_id = c.project_id and p.customer_id = c.id) as payments
        from customers c
        where c.project_id = ${input.projectId} and c.telegram_user_id = ${input.telegramUserId}`,
  )
  if (!row) throw new NotFound('Customer', input.telegramUserId)
  const payments = await rows<{
    id: string
    telegram_payment_charge_id: string
    product_key: string | null
    amount_stars: string
    status: string
    flag: string | null
    is_recurring: boolean
    paid_at: string | Date
    refunded_at: string | Date | null
    refunded_by: string | null
    refund_reason: string | null
  }>(
    db,
    sql`select id, telegram_payment_charge_id, product_key, amount_stars, status, flag, is_recurring,
          paid_at, refunded_at, refunded_by, refund_reason
        from payments where project_id = ${input.projectId} and customer_id = ${row.id}
        order by paid_at desc, id desc limit 50`,
  )
  const entitlements = await listEntitlements(db, input.projectId, Number(row.id), new Date())
  return {
    ...toSummary(row),
    languageCode: row.language_code,
    entitlements,
    paymentsCount: Number(row.payments),
    payments: payments.map((p) => ({
      id: Number(p.id),
      chargeId: p.telegram_payment_charge_id,
      productKey: p.product_key,
      amountStars: Number(p.amount_stars),
      status: p.status,
      flag: p.flag,
      recurring: p.is_recurring,
      paidAt: new Date(p.paid_at).toISOString(),
      refundedAt: p.refunded_at ? new Date(p.refunded_at).toISOString() : null,
      refundedBy: p.refunded_by,
      refundReason: p.refund_reason,
    })),
  }
}

export type CustomerDetail = Awaited<ReturnType<typeof getCustomerDetail>>

/** Quotas and free allowances binding the customer now, with usage and reset time. */
export async function getCustomerQuotaUsage(
  db: Db,
  input: { projectId: string; telegramUserId: number },
) {
  const customerId = await customerIdOf(db, input.projectId, input.telegramUserId)
  return customerQuotas(db, { ...input, customerId })
}
