import { type Executor, ledgerEntries, rows, type Tx } from '@e-stars/db'
import { and, desc, eq, lt, sql } from 'drizzle-orm'
import { noteCustomerMargin } from '../margin/alerts.ts'
import { checkCostCap } from '../margin/caps.ts'
import { costOfAct } from '../margin/cost.ts'
import type { UsageRecord } from '../margin/usage.ts'
import { lotValues, valueMoved, valueRemainingSql } from '../margin/value.ts'
import { chainedHashSql, contentDigest, lotsText, microsSql } from './chain.ts'
import type { LockedCustomer } from './customers.ts'
import { noteBalanceCrossing } from './events.ts'
import { customerIdOf } from './lookup.ts'

export type EntryKind =
  | 'grant'
  | 'consume'
  | 'hold'
  | 'settle'
  | 'release'
  | 'hold_expire'
  | 'expire'
  | 'revoke'
  | 'adjust'
  | 'repay'
  | 'shortfall'

export interface LotChange {
  lotId: number
  /** Signed: negative takes credits out of the lot, positive puts them back. */
  amount: number
}

export interface EntryDraft {
  kind: EntryKind
  /** Change of `available`. */
  amount: number
  heldChange?: number
  debtChange?: number
  lots?: LotChange[]
  grantId?: number | null
  holdId?: string | null
  reason: string
  actor: string
  idempotencyKey?: string | null
  metadata?: Record<string, unknown> | null
  /** New earliest expiry to cache on the customer; `undefined` keeps the current one. */
  nextExpiryAt?: Date | null
  /**
   * The metered act's usage (issue 14): its cost is computed here (the record's own
   * `costMicros`, else the price book), and a `consume` whose cost would pass a cost cap is
   * refused (`COST_CAP_REACHED`).
   */
  usage?: UsageRecord | undefined
  /**
   * Revenue recognised or reversed beyond what the lot changes move: a refund's reversal of its
   * lot's recognised value (negative), or a new lot's part that repaid a debt.
   */
  revenueAdjustMicros?: number | undefined
  /** The instant cost caps are checked at (default: now). */
  now?: Date | undefined
}

/** Entry kinds that close a hold: they recognise the value the hold took out of the lots. */
const CLOSES_HOLD = new Set<EntryKind>(['settle', 'release', 'hold_expire'])

export interface BalanceAfter {
  entryId: number
  available: number
  held: number
  debt: number
}

/**
 * Writes one ledger entry, applies its lot changes and moves the customer's cached balance and
 * chain head by the same deltas — one statement, so the cache can never drift from the sum of the
 * ledger and every entry links to the one before it (chain.ts).
 * The caller holds the customer lock.
 */
export async function appendEntry(
  tx: Tx,
  customer: LockedCustomer,
  draft: EntryDraft,
): Promise<BalanceAfter> {
  const heldChange = draft.heldChange ?? 0
  const debtChange = draft.debtChange ?? 0
  const lots = (draft.lots ?? []).filter((l) => l.amount !== 0)
  const margin = await marginOf(tx, customer, draft, lots)
  const lotUpdate = lots.length
    ? sql`lot_changes as (
        update grants g set remaining = g.remaining + v.delta,
          value_remaining_micros = ${valueRemainingSql(sql`g.remaining + v.delta`)}
        from (values ${sql.join(
          lots.map((l) => sql`(${l.lotId}::int8, ${l.amount}::int8)`),
          sql`, `,
        )}) as v(id, delta)
        where g.project_id = ${customer.projectId} and g.customer_id = ${customer.id} and g.id = v.id
        returning g.id
      ),`
    : sql``
  // Credits put back into a lot (a settle, release or hold expiry) bring that lot's expiry back
  // into the customer's earliest expiry, so the sweep and the one-statement consume see it.
  const refilled = lots.filter((l) => l.amount > 0)
  const nextExpiry =
    draft.nextExpiryAt !== undefined
      ? sql`${draft.nextExpiryAt ? draft.nextExpiryAt.toISOString() : null}::timestamptz`
      : refilled.length
        ? sql`least(next_expiry_at, (select min(expires_at) from grants
            where project_id = ${customer.projectId} and customer_id = ${customer.id}
              and id in (${sql.join(
                refilled.map((l) => sql`${l.lotId}::int8`),
                sql`, `,
              )})))`
        : sql`next_expiry_at`
  // Only a change of `available` can cross the project's low-balance threshold.
  const threshold =
    draft.amount === 0
      ? sql``
      : sql`, (select low_balance_threshold from projects where id = ${customer.projectId}) as threshold`
  const digest = contentDigest({
    projectId: customer.projectId,
    kind: draft.kind,
    amount: draft.amount,
    heldChange,
    debtChange,
    grantId: draft.grantId ?? null,
    holdId: draft.holdId ?? null,
    reason: draft.reason,
    actor: draft.actor,
    idempotencyKey: draft.idempotencyKey ?? null,
    metadata: draft.metadata ?? null,
    revenueMicros: margin.revenueMicros,
    costMicros: margin.costMicros,
    usage: margin.usage,
  })
  // The chain head moves with the balance: the SET's right-hand sides see the row before this
  // statement, and so does `head_before` (one snapshot for the whole statement).
  const head = chainedHashSql(sql`ledger_head`, digest, {
    customerId: sql`id`,
    availableAfter: sql`available + ${draft.amount}::int8`,
    heldAfter: sql`held + ${heldChange}::int8`,
    debtAfter: sql`debt + ${debtChange}::int8`,
    lots: sql`${lotsText(lots)}::text`,
    createdAtMicros: microsSql(sql`now()`),
  })
  const [row] = await rows<{
    id: string
    available_after: string
    held_after: string
    debt_after: string
    next_expiry_at: string | Date | null
    threshold?: string | null
  }>(
    tx,
    sql`with ${lotUpdate}
      head_before as (
        select ledger_head from customers where project_id = ${customer.projectId} and id = ${customer.id}
      ),
      customer_after as (
        update customers set available = available + ${draft.amount}::int8,
          held = held + ${heldChange}::int8, debt = debt + ${debtChange}::int8,
          next_expiry_at = ${nextExpiry}, last_active_at = now(), ledger_head = ${head}
        where project_id = ${customer.projectId} and id = ${customer.id}
        returning available, held, debt, next_expiry_at, ledger_head
      )
      insert into ledger_entries (project_id, customer_id, kind, amount, held_change, debt_change,
        available_after, held_after, debt_after, lots, grant_id, hold_id, reason, actor, idempotency_key, metadata,
        revenue_micros, cost_micros, usage, created_at, prev_hash, hash)
      select ${customer.projectId}, ${customer.id}, ${draft.kind}, ${draft.amount}::int8, ${heldChange}::int8,
        ${debtChange}::int8, available, held, debt, ${JSON.stringify(lots)}::jsonb, ${draft.grantId ?? null}::int8,
        ${draft.holdId ?? null}::uuid, ${draft.reason}, ${draft.actor}, ${draft.idempotencyKey ?? null},
        ${draft.metadata ? JSON.stringify(draft.metadata) : null}::jsonb,
        ${margin.revenueMicros}::int8, ${margin.costMicros}::int8,
        ${margin.usage ? JSON.stringify(margin.usage) : null}::jsonb,
        now(), (select ledger_head from head_before), ledger_head
      from customer_after
      returning id, available_after, held_after, debt_after,
        (select next_expiry_at from customer_after) as next_expiry_at ${threshold}`,
  )
  const after = {
    entryId: Number(row!.id),
    available: Number(row!.available_after),
    held: Number(row!.held_after),
    debt: Number(row!.debt_after),
  }
  customer.available = after.available
  customer.held = after.held
  customer.debt = after.debt
  customer.nextExpiryAt = row!.next_expiry_at === null ? null : new Date(row!.next_expiry_at)
  if (margin.costMicros) await noteCustomerMargin(tx, customer, draft.now ?? new Date())
  if (Number(row!.threshold ?? 0) > 0) {
    await noteBalanceCrossing(tx, customer, {
      kind: draft.kind,
      before: after.available - draft.amount,
      after: after.available,
      threshold: Number(row!.threshold),
      entryId: after.entryId,
    })
  }
  return after
}

interface EntryMargin {
  revenueMicros: number | null
  costMicros: number | null
  usage: Record<string, unknown> | null
}

/**
 * The entry's revenue and cost (issue 14), decided before the write so the chain hashes them.
 * Revenue is the value its lot changes move out of the lots (`valueMoved`: negative when credits
 * go back), plus, for an entry closing a hold, the value the hold entry took out (a hold entry's
 * `revenueMicros` is that deferred value, recognised only when the hold closes), plus the
 * draft's adjustment. Consume and settle entries always carry a revenue (0 for free credits).
 */
async function marginOf(
  tx: Tx,
  customer: LockedCustomer,
  draft: EntryDraft,
  lots: LotChange[],
): Promise<EntryMargin> {
  let costMicros: number | null = null
  let usage: Record<string, unknown> | null = null
  if (draft.usage) {
    const act = await costOfAct(tx, customer, draft.usage)
    costMicros = act.costMicros
    usage = act.usage
    if (draft.kind === 'consume' && costMicros)
      await checkCostCap(tx, customer, costMicros, draft.now ?? new Date())
  }
  let revenue: number | null = null
  if (lots.length) {
    revenue = valueMoved(
      await lotValues(
        tx,
        customer,
        lots.map((l) => l.lotId),
      ),
      lots,
    )
  }
  if (CLOSES_HOLD.has(draft.kind) && draft.holdId) {
    const [hold] = await rows<{ deferred: string | null }>(
      tx,
      sql`select revenue_micros as deferred from ledger_entries
          where project_id = ${customer.projectId} and customer_id = ${customer.id}
            and kind = 'hold' and hold_id = ${draft.holdId}::uuid
          order by id limit 1`,
    )
    if (hold?.deferred != null) revenue = (revenue ?? 0) + Number(hold.deferred)
  }
  if (draft.revenueAdjustMicros) revenue = (revenue ?? 0) + draft.revenueAdjustMicros
  if (revenue === null && (draft.kind === 'consume' || draft.kind === 'settle')) revenue = 0
  return { revenueMicros: revenue, costMicros, usage }
}

export interface ListLedgerInput {
  projectId: string
  telegramUserId: number
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string | null | undefined
  limit?: number | undefined
}

/** Newest first, keyset-paginated by entry id. */
export async function listLedger(db: Executor, input: ListLedgerInput) {
  const customerId = await customerIdOf(db, input.projectId, input.telegramUserId)
  const limit = input.limit ?? 50
  const before = input.cursor ? Number(input.cursor) : null
  const page = await db
    .select({
      id: ledgerEntries.id,
      kind: ledgerEntries.kind,
      amount: ledgerEntries.amount,
      heldChange: ledgerEntries.heldChange,
      debtChange: ledgerEntries.debtChange,
      availableAfter: ledgerEntries.availableAfter,
      heldAfter: ledgerEntries.heldAfter,
      debtAfter: ledgerEntries.debtAfter,
      lots: ledgerEntries.lots,
      grantId: ledgerEntries.grantId,
      holdId: ledgerEntries.holdId,
      reason: ledgerEntries.reason,
      actor: ledgerEntries.actor,
      metadata: ledgerEntries.metadata,
      createdAt: ledgerEntries.createdAt,
    })
    .from(ledgerEntries)
    .where(
      and(
        eq(ledgerEntries.projectId, input.projectId),
        eq(ledgerEntries.customerId, customerId),
        before === null ? undefined : lt(ledgerEntries.id, before),
      ),
    )
    .orderBy(desc(ledgerEntries.id))
    .limit(limit + 1)
  const entries = page.slice(0, limit).map((e) => ({ ...e, createdAt: e.createdAt.toISOString() }))
  const nextCursor = page.length > limit ? String(entries[entries.length - 1]!.id) : null
  return { entries, nextCursor }
}

export type LedgerPage = Awaited<ReturnType<typeof listLedger>>
