import { type Db, type Executor, rows } from '@e-stars/db'
import type { BotApi } from '@e-stars/telegram'
import { type SQL, sql } from 'drizzle-orm'
import { recordAudit } from '../identity/audit.ts'
import { refundPayment } from '../payments/refunds.ts'

export interface SearchPaymentsInput {
  projectId: string
  status?: 'paid' | 'refunded' | 'unmatched' | null | undefined
  productKey?: string | null | undefined
  /** Paid at or after / before these instants. */
  from?: Date | null | undefined
  to?: Date | null | undefined
  /** Only payments newer than this id (the live feed polls with the newest id it has). */
  after?: number | null | undefined
  cursor?: string | null | undefined
  limit?: number | undefined
}

interface PaymentRow {
  id: string
  telegram_payment_charge_id: string
  telegram_user_id: string
  username: string | null
  first_name: string | null
  product_key: string | null
  amount_stars: string
  status: string
  flag: string | null
  recorded_via: string
  is_recurring: boolean
  paid_at: string | Date
  refunded_at: string | Date | null
  refunded_by: string | null
  refund_reason: string | null
}

function filters(input: SearchPaymentsInput): SQL {
  const parts: SQL[] = [sql`p.project_id = ${input.projectId}`]
  if (input.status) parts.push(sql`p.status = ${input.status}`)
  if (input.productKey) parts.push(sql`p.product_key = ${input.productKey}`)
  if (input.from) parts.push(sql`p.paid_at >= ${input.from.toISOString()}::timestamptz`)
  if (input.to) parts.push(sql`p.paid_at < ${input.to.toISOString()}::timestamptz`)
  if (input.after) parts.push(sql`p.id > ${input.after}::int8`)
  // Keyset on the Paid column: the rows after the cursor's (paid_at, id), the cursor being an id.
  if (input.cursor)
    parts.push(
      sql`(p.paid_at, p.id) < (select q.paid_at, q.id from payments q where q.id = ${Number(input.cursor)}::int8)`,
    )
  return sql.join(parts, sql` and `)
}

const toConsolePayment = (row: PaymentRow) => ({
  id: Number(row.id),
  chargeId: row.telegram_payment_charge_id,
  telegramUserId: Number(row.telegram_user_id),
  username: row.username,
  firstName: row.first_name,
  productKey: row.product_key,
  amountStars: Number(row.amount_stars),
  status: row.status,
  flag: row.flag,
  recordedVia: row.recorded_via,
  recurring: row.is_recurring,
  paidAt: new Date(row.paid_at).toISOString(),
  refundedAt: row.refunded_at ? new Date(row.refunded_at).toISOString() : null,
  refundedBy: row.refunded_by,
  refundReason: row.refund_reason,
})

export type ConsolePayment = ReturnType<typeof toConsolePayment>

async function selectPayments(db: Executor, input: SearchPaymentsInput, limit: number) {
  return rows<PaymentRow>(
    db,
    sql`select p.id, p.telegram_payment_charge_id, p.telegram_user_id, c.username, c.first_name,
          p.product_key, p.amount_stars, p.status, p.flag, p.recorded_via, p.is_recurring, p.paid_at,
          p.refunded_at, p.refunded_by, p.refund_reason
        from payments p
        left join customers c on c.project_id = p.project_id and c.id = p.customer_id
        where ${filters(input)}
        order by p.paid_at desc, p.id desc
        limit ${limit}`,
  )
}

/** The console's payments list: filters by status, product and paid date; newest paid first. */
export async function searchPayments(db: Executor, input: SearchPaymentsInput) {
  const limit = input.limit ?? 50
  const page = await selectPayments(db, input, limit + 1)
  const list = page.slice(0, limit).map(toConsolePayment)
  return {
    payments: list,
    nextCursor: page.length > limit ? String(list[list.length - 1]!.id) : null,
  }
}

const CSV_MAX_ROWS = 100_000
const csvCell = (value: unknown) => {
  if (value === null || value === undefined) return ''
  const text = String(value)
  // Quote what needs it, and defuse formulas a spreadsheet would run.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}

/** The same filters as `searchPayments`, as CSV (up to 100 000 rows, newest first). */
export async function exportPaymentsCsv(db: Executor, input: SearchPaymentsInput) {
  const list = (await selectPayments(db, input, CSV_MAX_ROWS)).map(toConsolePayment)
  const header = [
    'paid_at',
    'charge_id',
    'telegram_user_id',
    'username',
    'product',
    'stars',
    'status',
    'flag',
    'recorded_via',
    'refunded_at',
    'refunded_by',
    'refund_reason',
  ]
  const lines = list.map((p) =>
    [
      p.paidAt,
      p.chargeId,
      p.telegramUserId,
      p.username,
      p.productKey,
      p.amountStars,
      p.status,
      p.flag,
      p.recordedVia,
      p.refundedAt,
      p.refundedBy,
      p.refundReason,
    ]
      .map(csvCell)
      .join(','),
  )
  return { rows: list.length, csv: `${[header.join(','), ...lines].join('\r\n')}\r\n` }
}

/**
 * An operator's refund from the console: Telegram's `refundStarPayment`, the revocation and the
 * audit row. Telegram refusing leaves nothing written; its answer comes back as the error.
 */
export async function refundPaymentAsOperator(
  db: Db,
  input: {
    projectId: string
    telegramPaymentChargeId: string
    reason: string
    actor: string
    botApi: Pick<BotApi, 'refundStarPayment'>
  },
) {
  return refundPayment(db, {
    projectId: input.projectId,
    telegramPaymentChargeId: input.telegramPaymentChargeId,
    reason: input.reason,
    by: input.actor,
    botApi: input.botApi,
    // In the revocation's own transaction: the audit row and the refund land together.
    async onRevoked(tx, outcome) {
      await recordAudit(tx, {
        projectId: input.projectId,
        actor: input.actor,
        action: 'payment.refund',
        target: `payment:${input.telegramPaymentChargeId}`,
        before: { status: 'paid' },
        after: {
          status: 'refunded',
          reason: input.reason,
          voided: outcome.voided,
          spent: outcome.spent,
          debtAdded: outcome.debtAdded,
          absorbed: outcome.absorbed,
          entitlementsRevoked: outcome.entitlementsRevoked,
        },
      })
    },
  })
}
