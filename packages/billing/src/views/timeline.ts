import { type Executor, rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { formatNumber } from '../format.ts'
import { customerIdOf } from '../ledger/lookup.ts'

/** What `describeEntry` needs to know about one ledger entry (plus its lot and payment when known). */
export interface DescribableEntry {
  kind: string
  amount: number
  heldChange: number
  debtChange: number
  reason: string
  actor: string
  metadata: Record<string, unknown> | null
  /** The lot a grant or expiry entry is about. */
  lot?: { source: string; reason: string } | null | undefined
  /** The payment that bought the lot. */
  payment?: { chargeId: string; productKey: string | null; stars: number } | null | undefined
}

export interface EntryDescription {
  /** The whole sentence: "−120 credits: AI answer, 12 000 tokens". */
  text: string
  /** The signed change of available credits as shown ("+500", "−120", "0"). */
  change: string
  tone: 'credit' | 'debit' | 'neutral'
}

const MINUS = '\u2212'

/** The one number format (`./format.ts`): the timeline writes numbers as the console and the Mini App do. */
export const formatCount = formatNumber

const signed = (n: number) => (n > 0 ? `+${formatCount(n)}` : formatCount(n))

/** `operator:alice@example.com` → "alice", `api-key:…` → "the bot", `system` → "the system". */
export function actorName(actor: string): string {
  if (actor.startsWith('operator:')) return actor.slice('operator:'.length).split('@')[0]!
  if (actor.startsWith('api-key:')) return 'the bot'
  if (actor === 'system') return 'the system'
  if (actor === 'telegram') return 'Telegram'
  return actor
}

// Metadata keys that explain the engine's own bookkeeping, not the customer's usage.
const internalKeys = new Set([
  'source',
  'repaid',
  'actual',
  'charged',
  'shortfall',
  'lostWithExpiredLots',
  'expiredAt',
  'reason',
  'refundedBy',
  'paymentId',
  'chargeId',
  'policy',
  // Feature usage bookkeeping: the reason already names the use, units show through their own keys.
  'feature',
  'quantity',
  'freeQuantity',
  'reservationId',
])

/** "12 000 tokens, model gpt" from `{ tokens: 12000, model: 'gpt' }`; numbers get their key as unit. */
function usageDetails(metadata: Record<string, unknown> | null): string[] {
  if (!metadata) return []
  const parts: string[] = []
  for (const [key, value] of Object.entries(metadata)) {
    if (internalKeys.has(key) || value === null || value === undefined) continue
    if (typeof value === 'number') parts.push(`${formatCount(value)} ${key}`)
    else if (typeof value === 'string' && value.length <= 60) parts.push(`${key} ${value}`)
  }
  return parts.slice(0, 3)
}

const join = (...parts: Array<string | null | undefined | false>) =>
  parts.filter((p): p is string => Boolean(p)).join(', ')

/**
 * One ledger entry in plain words, the way an operator (or the customer, via the bot's /usage)
 * reads it. The one place this wording lives.
 */
export function describeEntry(entry: DescribableEntry): EntryDescription {
  const amount = entry.amount
  const charged = -(entry.amount + entry.heldChange)
  const by = actorName(entry.actor)
  const meta = entry.metadata ?? {}
  const tone: EntryDescription['tone'] = amount > 0 ? 'credit' : amount < 0 ? 'debit' : 'neutral'
  const change = amount === 0 ? '0' : signed(amount)
  switch (entry.kind) {
    case 'grant': {
      const repaid = -entry.debtChange
      const what = entry.payment
        ? join(entry.reason, `payment ${entry.payment.chargeId}`)
        : entry.lot?.source === 'manual' || entry.lot?.source === 'adjustment'
          ? `${entry.reason} (granted by ${by})`
          : join(
              entry.lot?.source && entry.lot.source !== 'payment' ? entry.lot.source : null,
              entry.reason,
            )
      const total = amount + repaid
      return {
        text: `${signed(total)}: ${what}${repaid > 0 ? `; ${formatCount(repaid)} repaid debt` : ''}`,
        change,
        tone: total > 0 ? 'credit' : 'neutral',
      }
    }
    case 'consume':
      return {
        text: `${MINUS}${formatCount(-amount)} credits: ${join(entry.reason, ...usageDetails(meta))}`,
        change,
        tone,
      }
    case 'hold':
      return {
        text: `${formatCount(entry.heldChange)} credits held: ${join(entry.reason, ...usageDetails(meta))}`,
        change,
        tone: 'neutral',
      }
    case 'settle': {
      const returned = Math.max(entry.amount, 0)
      return {
        text: `${MINUS}${formatCount(charged)} credits: ${join(entry.reason, ...usageDetails(meta))} (held ${formatCount(
          -entry.heldChange,
        )}${returned ? `, ${formatCount(returned)} returned` : ''})`,
        change: charged === 0 ? '0' : `${MINUS}${formatCount(charged)}`,
        tone: charged > 0 ? 'debit' : 'neutral',
      }
    }
    case 'release':
      return {
        text: `${formatCount(amount)} held credits released: ${entry.reason}`,
        change,
        tone: 'neutral',
      }
    case 'hold_expire':
      return {
        text: `${formatCount(amount)} held credits returned: the hold expired unsettled`,
        change,
        tone: 'neutral',
      }
    case 'expire':
      return {
        text: `${MINUS}${formatCount(-amount)} expired: ${entry.lot ? `lot "${entry.lot.reason}"` : entry.reason}`,
        change,
        tone,
      }
    case 'revoke': {
      // The voided part left the balance; the spent part the refund took back became debt.
      const debt = entry.debtChange > 0 ? `, ${formatCount(entry.debtChange)} became debt` : ''
      const reason = (typeof meta.reason === 'string' ? meta.reason : entry.reason).replace(
        /^refund:\s*/i,
        '',
      )
      return {
        text: `${MINUS}${formatCount(-amount)} revoked${debt}: refund by ${by}, ${reason}`,
        change,
        tone,
      }
    }
    case 'adjust':
      return {
        text: `${signed(amount)} adjusted by ${by}: ${entry.reason}`,
        change,
        tone,
      }
    case 'repay':
      return {
        text: `${formatCount(-entry.debtChange)} repaid debt: ${entry.reason}`,
        change,
        tone,
      }
    case 'shortfall': {
      // Work done beyond what was paid (usage/overage.ts): said in full, whatever the policy.
      const unpaid = Number(meta.unpaidCredits ?? 0)
      const units = Number(meta.unpaidUnits ?? 0)
      const fate =
        entry.debtChange > 0
          ? `${formatCount(entry.debtChange)} became debt`
          : `${formatCount(Number(meta.absorbed ?? unpaid))} not charged (the operator's loss)`
      const paid = amount < 0 ? `${formatCount(-amount)} paid from the balance, ` : ''
      return {
        text: `${formatCount(unpaid)} credits unpaid for ${formatCount(units)} units beyond what was paid: ${paid}${fate}; ${entry.reason}`,
        change,
        tone: 'debit',
      }
    }
    default:
      return { text: `${signed(amount)}: ${entry.reason}`, change, tone }
  }
}

export interface ListTimelineInput {
  projectId: string
  telegramUserId: number
  cursor?: string | null | undefined
  limit?: number | undefined
}

interface TimelineRow {
  id: string
  kind: string
  amount: string
  held_change: string
  debt_change: string
  available_after: string
  held_after: string
  debt_after: string
  reason: string
  actor: string
  metadata: Record<string, unknown> | string | null
  created_at: string | Date
  grant_id: string | null
  lot_source: string | null
  lot_reason: string | null
  payment_id: string | null
  charge_id: string | null
  product_key: string | null
  stars: string | null
}

/** The customer's ledger, newest first, each entry with its sentence. Keyset-paginated by id. */
export async function listTimeline(db: Executor, input: ListTimelineInput) {
  const customerId = await customerIdOf(db, input.projectId, input.telegramUserId)
  const limit = input.limit ?? 50
  const before = input.cursor ? Number(input.cursor) : null
  const page = await rows<TimelineRow>(
    db,
    sql`select e.id, e.kind, e.amount, e.held_change, e.debt_change, e.available_after, e.held_after,
          e.debt_after, e.reason, e.actor, e.metadata, e.created_at, e.grant_id,
          g.source as lot_source, g.reason as lot_reason, p.id as payment_id,
          p.telegram_payment_charge_id as charge_id, p.product_key, p.amount_stars as stars
        from ledger_entries e
        left join grants g on g.project_id = e.project_id and g.id = e.grant_id
        left join payments p on p.project_id = e.project_id and p.id = g.payment_id
        where e.project_id = ${input.projectId} and e.customer_id = ${customerId}
          ${before === null ? sql`` : sql`and e.id < ${before}`}
        order by e.id desc
        limit ${limit + 1}`,
  )
  const entries = page.slice(0, limit).map((row) => {
    const metadata =
      typeof row.metadata === 'string'
        ? (JSON.parse(row.metadata) as Record<string, unknown>)
        : row.metadata
    const entry: DescribableEntry = {
      kind: row.kind,
      amount: Number(row.amount),
      heldChange: Number(row.held_change),
      debtChange: Number(row.debt_change),
      reason: row.reason,
      actor: row.actor,
      metadata,
      lot: row.lot_source ? { source: row.lot_source, reason: row.lot_reason ?? '' } : null,
      payment: row.charge_id
        ? { chargeId: row.charge_id, productKey: row.product_key, stars: Number(row.stars) }
        : null,
    }
    return {
      id: Number(row.id),
      kind: row.kind,
      amount: entry.amount,
      heldChange: entry.heldChange,
      debtChange: entry.debtChange,
      availableAfter: Number(row.available_after),
      heldAfter: Number(row.held_after),
      debtAfter: Number(row.debt_after),
      reason: row.reason,
      actor: row.actor,
      grantId: row.grant_id === null ? null : Number(row.grant_id),
      paymentId: row.payment_id === null ? null : Number(row.payment_id),
      createdAt: new Date(row.created_at).toISOString(),
      ...describeEntry(entry),
    }
  })
  const nextCursor = page.length > limit ? String(entries[entries.length - 1]!.id) : null
  return { entries, nextCursor }
}

export type TimelinePage = Awaited<ReturnType<typeof listTimeline>>
export type TimelineEntry = TimelinePage['entries'][number]
