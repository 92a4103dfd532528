import { type Executor, quotas, rows } from '@e-stars/db'
import { and, eq, isNull, type SQL, sql } from 'drizzle-orm'
import { InvalidInput, NotFound } from '../errors.ts'
import { customerIdOf } from '../ledger/lookup.ts'
import { transact } from '../ledger/transaction.ts'
import {
  type QuotaPeriod,
  type QuotaWindow,
  type QuotaWindowKind,
  quotaWindow,
  ROLLING_LENGTH_MS,
} from './windows.ts'

export type QuotaScope = 'project' | 'product' | 'customer'

export interface Quota {
  id: string
  featureKey: string
  scope: QuotaScope
  productKey: string | null
  telegramUserId: number | null
  limit: number
  period: QuotaPeriod
  window: QuotaWindowKind
  free: boolean
  createdAt: string
}

export interface SetQuotaInput {
  projectId: string
  featureKey: string
  scope: QuotaScope
  /** Required for scope `product`: holders of this product get this quota. */
  productKey?: string | null | undefined
  /** Required for scope `customer`: an override for one customer. */
  telegramUserId?: number | null | undefined
  limit: number
  period: QuotaPeriod
  window?: QuotaWindowKind | undefined
  /** A free allowance: units consumed before paid credits, instead of a cap. */
  free?: boolean | undefined
}

/**
 * Sets the limit of the quota identified by (feature, scope, product or customer, period, window,
 * free), creating it if new. The feature must exist.
 */
export async function setQuota(db: Executor, input: SetQuotaInput): Promise<Quota> {
  if (!Number.isSafeInteger(input.limit) || input.limit < 0) {
    throw new InvalidInput('limit', 'must be a whole number, 0 or more')
  }
  if (input.scope === 'product' && !input.productKey) {
    throw new InvalidInput('productKey', 'required for a product quota')
  }
  if (input.scope === 'customer' && !input.telegramUserId) {
    throw new InvalidInput('telegramUserId', 'required for a customer quota')
  }
  const window = input.window ?? 'calendar'
  const free = input.free ?? false
  return transact(db, async (tx) => {
    const [feature] = await rows<{ key: string }>(
      tx,
      sql`select key from features where project_id = ${input.projectId} and key = ${input.featureKey}`,
    )
    if (!feature) throw new NotFound('Feature', input.featureKey)
    const customerId =
      input.scope === 'customer'
        ? await customerIdOf(tx, input.projectId, input.telegramUserId!)
        : null
    const productKey = input.scope === 'product' ? input.productKey! : null
    const same = and(
      eq(quotas.projectId, input.projectId),
      eq(quotas.featureKey, input.featureKey),
      eq(quotas.scope, input.scope),
      productKey === null ? isNull(quotas.productKey) : eq(quotas.productKey, productKey),
      customerId === null ? isNull(quotas.customerId) : eq(quotas.customerId, customerId),
      eq(quotas.period, input.period),
      eq(quotas.window, window),
      eq(quotas.free, free),
    )
    const [updated] = await tx
      .update(quotas)
      .set({ limit: input.limit })
      .where(same)
      .returning({ id: quotas.id })
    const id =
      updated?.id ??
      (
        await tx
          .insert(quotas)
          .values({
            projectId: input.projectId,
            featureKey: input.featureKey,
            scope: input.scope,
            productKey,
            customerId,
            limit: input.limit,
            period: input.period,
            window,
            free,
          })
          .returning({ id: quotas.id })
      )[0]!.id
    const [quota] = await listQuotas(tx, { projectId: input.projectId, quotaId: id })
    return quota!
  })
}

export async function listQuotas(
  db: Executor,
  input: { projectId: string; featureKey?: string | undefined; quotaId?: string | undefined },
): Promise<Quota[]> {
  const list = await rows<{
    id: string
    feature_key: string
    scope: QuotaScope
    product_key: string | null
    telegram_user_id: string | null
    limit: string
    period: QuotaPeriod
    window: QuotaWindowKind
    free: boolean
    created_at: string | Date
  }>(
    db,
    sql`select q.id, q.feature_key, q.scope, q.product_key, c.telegram_user_id, q.limit, q.period,
          q.window, q.free, q.created_at
        from quotas q left join customers c on c.project_id = q.project_id and c.id = q.customer_id
        where q.project_id = ${input.projectId}
          ${input.featureKey ? sql`and q.feature_key = ${input.featureKey}` : sql``}
          ${input.quotaId ? sql`and q.id = ${input.quotaId}` : sql``}
        order by q.feature_key, q.free desc, q.scope, q.created_at`,
  )
  return list.map((q) => ({
    id: q.id,
    featureKey: q.feature_key,
    scope: q.scope,
    productKey: q.product_key,
    telegramUserId: q.telegram_user_id === null ? null : Number(q.telegram_user_id),
    limit: Number(q.limit),
    period: q.period,
    window: q.window,
    free: q.free,
    createdAt: new Date(q.created_at).toISOString(),
  }))
}

/** A quota that applies to one customer now, with its usage in the current window. */
export interface QuotaState {
  id: string
  scope: QuotaScope
  productKey: string | null
  free: boolean
  period: QuotaPeriod
  window: QuotaWindowKind
  limit: number
  /** Units counted in the window, including active reservations. */
  used: number
  /** Calendar: the window's end. Rolling: when the oldest counted usage leaves the window. */
  resetsAt: string | null
  /** Identifies the window, for one event per exhaustion. */
  windowKey: string
}

/** A quota row that may bind a customer, before the most specific ones are chosen. */
export interface ApplicableRow {
  id: string
  scope: QuotaScope
  product_key: string | null
  limit: string | number
  period: QuotaPeriod
  window: QuotaWindowKind
  free: boolean
}

const SPECIFICITY: Record<QuotaScope, number> = { customer: 3, product: 2, project: 1 }

/**
 * A scalar subquery: the feature's quotas that may bind the customer `customerId` (an SQL
 * expression, so it can correlate with a customer row in the same statement) at `now`, as a
 * JSON array. A product quota may bind while the customer holds an entitlement in force to the
 * product's feature or an unexpired subscription to the product.
 */
export function candidateQuotas(
  projectId: string,
  featureKey: string,
  customerId: SQL,
  now: Date,
): SQL {
  const at = now.toISOString()
  return sql`(select coalesce(json_agg(json_build_object('id', q.id, 'scope', q.scope,
      'product_key', q.product_key, 'limit', q.limit, 'period', q.period, 'window', q.window,
      'free', q.free)), '[]'::json)
    from quotas q
    where q.project_id = ${projectId} and q.feature_key = ${featureKey}
      and (q.scope = 'project' or (${customerId} is not null and (
        (q.scope = 'customer' and q.customer_id = ${customerId})
        or (q.scope = 'product' and (
          exists (select 1 from products p join entitlements e
                    on e.project_id = p.project_id and e.feature_key = p.feature_key
                  where p.project_id = ${projectId} and p.key = q.product_key
                    and e.customer_id = ${customerId} and e.revoked_at is null
                    and e.starts_at <= ${at}::timestamptz
                    and (e.ends_at is null or e.ends_at > ${at}::timestamptz))
          or exists (select 1 from subscriptions s
                  where s.project_id = ${projectId} and s.customer_id = ${customerId}
                    and s.product_key = q.product_key and s.status in ('active', 'canceled')
                    and s.current_period_end > ${at}::timestamptz)))))))`
}

export function parseCandidates(value: unknown): ApplicableRow[] {
  const list = typeof value === 'string' ? (JSON.parse(value) as unknown) : value
  return (list ?? []) as ApplicableRow[]
}

/**
 * Which candidate quotas bind. For the caps and, separately, for the free allowances: a customer
 * override beats a product quota, which beats the project's. Of several products, the most
 * generous limit per (period, window) wins. Every quota left applies (a day cap and a month cap
 * both hold). Free allowances come first.
 */
export function chooseQuotas(candidates: ApplicableRow[]): ApplicableRow[] {
  const chosen: ApplicableRow[] = []
  for (const free of [true, false]) {
    const group = candidates.filter((q) => q.free === free)
    const top = Math.max(0, ...group.map((q) => SPECIFICITY[q.scope]))
    const best = new Map<string, ApplicableRow>()
    for (const q of group.filter((g) => SPECIFICITY[g.scope] === top)) {
      const slot = `${q.period}/${q.window}`
      const current = best.get(slot)
      if (!current || Number(q.limit) > Number(current.limit)) best.set(slot, q)
    }
    chosen.push(...[...best.values()].sort((a, b) => (a.id < b.id ? -1 : 1)))
  }
  return chosen
}

/** The quotas that bind a customer for a feature now (see `chooseQuotas`), in one statement. */
export async function applicableQuotas(
  db: Executor,
  projectId: string,
  featureKey: string,
  customerId: number | null,
  now: Date,
): Promise<ApplicableRow[]> {
  const [row] = await rows<{ quotas: unknown }>(
    db,
    sql`select ${candidateQuotas(projectId, featureKey, sql`${customerId}::int8`, now)} as quotas`,
  )
  return chooseQuotas(parseCandidates(row?.quotas))
}

/**
 * Usage of each applicable quota in its current window, in one statement: settled usage events in
 * the window plus active, unexpired reservations (`exceptReservation` leaves out the one being
 * settled).
 */
export async function quotaStates(
  db: Executor,
  input: {
    projectId: string
    featureKey: string
    customerId: number | null
    timeZone: string
    now: Date
    exceptReservation?: string | undefined
  },
  applicable: ApplicableRow[],
): Promise<QuotaState[]> {
  if (applicable.length === 0) return []
  const { now } = input
  const windows: QuotaWindow[] = applicable.map((q) =>
    quotaWindow(now, q.period, q.window, input.timeZone),
  )
  if (input.customerId === null) {
    return applicable.map((q, i) => toState(q, windows[i]!, 0, null, null))
  }
  const inWindow = (q: ApplicableRow, w: QuotaWindow): SQL =>
    q.window === 'rolling'
      ? sql`occurred_at > ${w.start.toISOString()}::timestamptz and occurred_at <= ${now.toISOString()}::timestamptz`
      : sql`occurred_at >= ${w.start.toISOString()}::timestamptz and occurred_at < ${w.end.toISOString()}::timestamptz`
  const earliest = new Date(Math.min(...windows.map((w) => w.start.getTime())))
  const columns = applicable.map((q, i) => {
    const cond = inWindow(q, windows[i]!)
    return sql`coalesce(sum(${q.free ? sql`free_quantity` : sql`quantity`}) filter (where ${cond}), 0) as ${sql.raw(`used_${i}`)},
      min(occurred_at) filter (where ${cond}) as ${sql.raw(`oldest_${i}`)}`
  })
  const reserved = sql`from usage_reservations where project_id = ${input.projectId}
    and customer_id = ${input.customerId}::int8 and feature_key = ${input.featureKey}
    and status = 'active' and expires_at > ${now.toISOString()}::timestamptz
    ${input.exceptReservation ? sql`and id <> ${input.exceptReservation}::uuid` : sql``}`
  const [row] = await rows<Record<string, string | Date | null>>(
    db,
    sql`select ${sql.join(columns, sql`, `)},
          (select coalesce(sum(quantity), 0) ${reserved}) as reserved,
          (select coalesce(sum(free_quantity), 0) ${reserved}) as reserved_free,
          (select min(expires_at) ${reserved}) as reserved_until
        from usage_events
        where project_id = ${input.projectId} and customer_id = ${input.customerId}::int8
          and feature_key = ${input.featureKey} and occurred_at >= ${earliest.toISOString()}::timestamptz`,
  )
  const reservedUntil = row!.reserved_until ? new Date(row!.reserved_until) : null
  return applicable.map((q, i) => {
    const pending = Number(q.free ? row!.reserved_free : row!.reserved)
    const oldest = row![`oldest_${i}`]
    return toState(
      q,
      windows[i]!,
      Number(row![`used_${i}`]) + pending,
      oldest ? new Date(oldest) : null,
      pending > 0 ? reservedUntil : null,
    )
  })
}

function toState(
  q: ApplicableRow,
  w: QuotaWindow,
  used: number,
  oldest: Date | null,
  reservedUntil: Date | null,
): QuotaState {
  let resetsAt: Date | null = w.end
  let windowKey = w.key
  if (q.window === 'rolling') {
    const leaves = oldest ? new Date(oldest.getTime() + ROLLING_LENGTH_MS[q.period]) : null
    resetsAt =
      leaves && reservedUntil
        ? new Date(Math.min(leaves.getTime(), reservedUntil.getTime()))
        : (leaves ?? reservedUntil)
    // A rolling window has no boundary to key on: its latch is cleared when a consumption is
    // admitted with room left (see `noteExhaustion`), so each exhaustion reports once.
    windowKey = 'rolling'
  }
  return {
    id: q.id,
    scope: q.scope,
    productKey: q.product_key,
    free: q.free,
    period: q.period,
    window: q.window,
    limit: Number(q.limit),
    used,
    resetsAt: resetsAt?.toISOString() ?? null,
    windowKey,
  }
}

/** How a request of `quantity` units splits over the free allowances and the caps. */
export interface QuotaPlan {
  /** Units covered by free allowances (the least remaining of all that apply). */
  freeQuantity: number
  paidQuantity: number
  /** A cap the request would exceed, or null. */
  exceeded: QuotaState | null
  /** The cap with the least room left (the one to show), or null when no cap applies. */
  binding: QuotaState | null
  /** The free allowance with the least room left, or null. */
  allowance: QuotaState | null
}

export function planQuotas(states: QuotaState[], quantity: number): QuotaPlan {
  const room = (q: QuotaState) => Math.max(0, q.limit - q.used)
  const caps = states.filter((q) => !q.free)
  const allowances = states.filter((q) => q.free)
  const tightest = (list: QuotaState[]) =>
    list.reduce<QuotaState | null>((a, q) => (a === null || room(q) < room(a) ? q : a), null)
  const allowance = tightest(allowances)
  const freeQuantity = allowance ? Math.min(quantity, room(allowance)) : 0
  const over = caps.filter((q) => q.used + quantity > q.limit)
  // Of several exceeded caps, report the one that frees up last: retrying before it is pointless.
  const exceeded = over.reduce<QuotaState | null>(
    (a, q) => (a === null || (q.resetsAt ?? '') > (a.resetsAt ?? '') ? q : a),
    null,
  )
  return {
    freeQuantity,
    paidQuantity: quantity - freeQuantity,
    exceeded,
    binding: exceeded ?? tightest(caps),
    allowance,
  }
}

export const quotaView = (q: QuotaState | null) =>
  q
    ? {
        used: q.used,
        limit: q.limit,
        remaining: Math.max(0, q.limit - q.used),
        resetsAt: q.resetsAt,
        period: q.period,
        window: q.window,
        scope: q.scope,
      }
    : null

export type QuotaView = ReturnType<typeof quotaView>
