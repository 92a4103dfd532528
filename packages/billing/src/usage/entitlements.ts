import { type Executor, entitlements, rows, type Tx } from '@e-stars/db'
import { and, asc, eq, gt, isNull, or, sql } from 'drizzle-orm'
import { emitEvent } from '../ledger/events.ts'

export type EntitlementSource = 'unlock' | 'subscription' | 'operator'

export interface GrantEntitlementInput {
  projectId: string
  customerId: number
  featureKey: string
  source: EntitlementSource
  startsAt: Date
  /** null: for life. */
  endsAt: Date | null
  paymentId?: number | null | undefined
  orderId?: string | null | undefined
  subscriptionId?: string | null | undefined
}

/** Records access to a gated feature. One row per purchase, so a refund revokes exactly what it bought. */
export async function grantEntitlement(tx: Tx, input: GrantEntitlementInput) {
  const [row] = await tx
    .insert(entitlements)
    .values({
      projectId: input.projectId,
      customerId: input.customerId,
      featureKey: input.featureKey,
      source: input.source,
      startsAt: input.startsAt,
      endsAt: input.endsAt,
      paymentId: input.paymentId ?? null,
      orderId: input.orderId ?? null,
      subscriptionId: input.subscriptionId ?? null,
    })
    .returning({ id: entitlements.id })
  await emitEvent(tx, {
    projectId: input.projectId,
    customerId: input.customerId,
    type: 'entitlement.granted',
    payload: {
      entitlementId: row!.id,
      feature: input.featureKey,
      source: input.source,
      startsAt: input.startsAt.toISOString(),
      endsAt: input.endsAt?.toISOString() ?? null,
      paymentId: input.paymentId ?? null,
      subscriptionId: input.subscriptionId ?? null,
    },
  })
  return row!.id
}

/** The event of an entitlement ended before its time (a refund, an operator, abuse). */
export async function emitEntitlementRevoked(
  tx: Tx,
  projectId: string,
  revoked: { id: number; customerId: number; featureKey: string },
  facts: { reason: string; by: string; now: Date },
) {
  await emitEvent(tx, {
    projectId,
    customerId: revoked.customerId,
    type: 'entitlement.revoked',
    payload: {
      entitlementId: revoked.id,
      feature: revoked.featureKey,
      reason: facts.reason,
      by: facts.by,
      revokedAt: facts.now.toISOString(),
    },
  })
}

/**
 * When access to `featureKey` currently runs out: `null` when the customer has no access now,
 * `'lifetime'` for access without end, else the instant. A new timed purchase starts from here,
 * so buying 30 days twice gives 60.
 */
export async function accessEnd(
  db: Executor,
  projectId: string,
  customerId: number,
  featureKey: string,
  now: Date,
): Promise<Date | 'lifetime' | null> {
  const [row] = await rows<{ lifetime: boolean; until: string | null }>(
    db,
    sql`select bool_or(ends_at is null) as lifetime, max(ends_at) as until from entitlements
        where project_id = ${projectId} and customer_id = ${customerId} and feature_key = ${featureKey}
          and revoked_at is null and starts_at <= ${now.toISOString()}::timestamptz
          and (ends_at is null or ends_at > ${now.toISOString()}::timestamptz)`,
  )
  if (!row || row.lifetime === null) return null
  if (row.lifetime) return 'lifetime'
  // Chained periods (renewals, stacked unlocks) continue past the first row's end.
  let until = new Date(row.until!)
  for (;;) {
    const [next] = await rows<{ ends: string | null; lifetime: boolean }>(
      db,
      sql`select max(ends_at) as ends, bool_or(ends_at is null) as lifetime from entitlements
          where project_id = ${projectId} and customer_id = ${customerId} and feature_key = ${featureKey}
            and revoked_at is null and starts_at <= ${until.toISOString()}::timestamptz
            and (ends_at is null or ends_at > ${until.toISOString()}::timestamptz)`,
    )
    if (next?.lifetime) return 'lifetime'
    if (!next?.ends) return until
    until = new Date(next.ends)
  }
}

/** Ends every entitlement a payment bought. Returns how many were still in force. */
export async function revokeEntitlementsOfPayment(
  tx: Tx,
  input: { projectId: string; paymentId: number; reason: string; by: string; now: Date },
): Promise<number> {
  const revoked = await tx
    .update(entitlements)
    .set({ revokedAt: input.now, revokedReason: input.reason, revokedBy: input.by })
    .where(
      and(
        eq(entitlements.projectId, input.projectId),
        eq(entitlements.paymentId, input.paymentId),
        isNull(entitlements.revokedAt),
      ),
    )
    .returning({
      id: entitlements.id,
      customerId: entitlements.customerId,
      featureKey: entitlements.featureKey,
    })
  for (const r of revoked) await emitEntitlementRevoked(tx, input.projectId, r, input)
  return revoked.length
}

/** Entitlements in force at `now` (or starting later), with their source, oldest first. */
export async function listEntitlements(
  db: Executor,
  projectId: string,
  customerId: number,
  now: Date,
) {
  const list = await db
    .select({
      id: entitlements.id,
      featureKey: entitlements.featureKey,
      source: entitlements.source,
      startsAt: entitlements.startsAt,
      endsAt: entitlements.endsAt,
      paymentId: entitlements.paymentId,
      subscriptionId: entitlements.subscriptionId,
    })
    .from(entitlements)
    .where(
      and(
        eq(entitlements.projectId, projectId),
        eq(entitlements.customerId, customerId),
        isNull(entitlements.revokedAt),
        or(isNull(entitlements.endsAt), gt(entitlements.endsAt, now)),
      ),
    )
    .orderBy(asc(entitlements.startsAt), asc(entitlements.id))
  return list.map((e) => ({
    ...e,
    startsAt: e.startsAt.toISOString(),
    endsAt: e.endsAt?.toISOString() ?? null,
    active: e.startsAt <= now,
  }))
}
