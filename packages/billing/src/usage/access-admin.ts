import { customers, type Db, type Executor, entitlements, projects } from '@e-stars/db'
import { and, eq, sql } from 'drizzle-orm'
import { InvalidInput, NotFound } from '../errors.ts'
import { type Customer, getCustomer, upsertAndLockCustomer } from '../ledger/customers.ts'
import { customerIdOf } from '../ledger/lookup.ts'
import { transact } from '../ledger/transaction.ts'
import {
  accessEnd,
  emitEntitlementRevoked,
  grantEntitlement,
  listEntitlements,
} from './entitlements.ts'
import { findFeature } from './features.ts'
import { assertTimeZone } from './windows.ts'

const DAY_MS = 86_400_000

/** A blocked customer can neither buy nor consume; `access.check` answers `blocked`. */
export async function blockCustomer(
  db: Executor,
  input: { projectId: string; telegramUserId: number },
): Promise<Customer> {
  return setBlocked(db, input, sql`coalesce(${customers.blockedAt}, now())`)
}

export async function unblockCustomer(
  db: Executor,
  input: { projectId: string; telegramUserId: number },
): Promise<Customer> {
  return setBlocked(db, input, sql`null`)
}

async function setBlocked(
  db: Executor,
  input: { projectId: string; telegramUserId: number },
  value: ReturnType<typeof sql>,
) {
  // Takes the customer row lock like every other change to the customer.
  const updated = await db
    .update(customers)
    .set({ blockedAt: value })
    .where(
      and(
        eq(customers.projectId, input.projectId),
        eq(customers.telegramUserId, input.telegramUserId),
      ),
    )
    .returning({ id: customers.id })
  if (updated.length === 0) throw new NotFound('Customer', input.telegramUserId)
  return getCustomer(db, input.projectId, input.telegramUserId)
}

export interface GrantEntitlementByOperatorInput {
  projectId: string
  telegramUserId: number
  featureKey: string
  /** Access for this many days, starting where current access ends (so grants stack). */
  durationDays?: number | undefined
  /** Or access until this instant. Neither: for life. */
  until?: Date | undefined
  /** Who granted it, e.g. `operator:<id>` or `api-key:<id>`. */
  actor: string
  now?: Date | undefined
}

/**
 * Grants access to a gated feature by hand (support, promotions). The customer is created if new.
 * Returns the new entitlement and when access now ends (`null`: for life).
 */
export async function grantEntitlementByOperator(db: Db, input: GrantEntitlementByOperatorInput) {
  const now = input.now ?? new Date()
  if (input.durationDays !== undefined && input.until !== undefined) {
    throw new InvalidInput('until', 'give either durationDays or until, not both')
  }
  if (
    input.durationDays !== undefined &&
    (!Number.isInteger(input.durationDays) || input.durationDays < 1 || input.durationDays > 36_500)
  ) {
    throw new InvalidInput('durationDays', 'must be a whole number of days from 1 to 36500')
  }
  if (input.until !== undefined && input.until <= now) {
    throw new InvalidInput('until', 'must be in the future')
  }
  return transact(db, async (tx) => {
    const feature = await findFeature(tx, input.projectId, input.featureKey)
    if (!feature) throw new NotFound('Feature', input.featureKey)
    if (feature.kind !== 'gated') {
      throw new InvalidInput('featureKey', `${input.featureKey} is metered, not gated`)
    }
    const customer = await upsertAndLockCustomer(tx, input.projectId, input.telegramUserId)
    const current = await accessEnd(tx, input.projectId, customer.id, feature.key, now)
    let startsAt = now
    let endsAt: Date | null = null
    if (input.durationDays !== undefined) {
      startsAt = current instanceof Date ? current : now
      endsAt = new Date(startsAt.getTime() + input.durationDays * DAY_MS)
    } else if (input.until !== undefined) {
      endsAt = input.until
    }
    const id = await grantEntitlement(tx, {
      projectId: input.projectId,
      customerId: customer.id,
      featureKey: feature.key,
      source: 'operator',
      startsAt,
      endsAt,
    })
    const end = await accessEnd(tx, input.projectId, customer.id, feature.key, now)
    return {
      entitlementId: id,
      featureKey: feature.key,
      source: 'operator' as const,
      grantedBy: input.actor,
      startsAt: startsAt.toISOString(),
      endsAt: endsAt?.toISOString() ?? null,
      accessUntil: end === 'lifetime' || end === null ? null : end.toISOString(),
    }
  })
}

/** Ends one entitlement now (a refund by hand, abuse). Revoking twice changes nothing. */
export async function revokeEntitlement(
  db: Db,
  input: { projectId: string; entitlementId: number; reason: string; by: string; now?: Date },
) {
  const now = input.now ?? new Date()
  const where = and(
    eq(entitlements.projectId, input.projectId),
    eq(entitlements.id, input.entitlementId),
  )
  return transact(db, async (tx) => {
    const [revoked] = await tx
      .update(entitlements)
      .set({ revokedAt: now, revokedReason: input.reason, revokedBy: input.by })
      .where(and(where, sql`${entitlements.revokedAt} is null`))
      .returning({
        id: entitlements.id,
        customerId: entitlements.customerId,
        featureKey: entitlements.featureKey,
        revokedAt: entitlements.revokedAt,
      })
    if (revoked) {
      await emitEntitlementRevoked(tx, input.projectId, revoked, { ...input, now })
      return { entitlementId: revoked.id, revokedAt: revoked.revokedAt!.toISOString() }
    }
    const [existing] = await tx
      .select({ id: entitlements.id, revokedAt: entitlements.revokedAt })
      .from(entitlements)
      .where(where)
    if (!existing) throw new NotFound('Entitlement', input.entitlementId)
    return { entitlementId: existing.id, revokedAt: existing.revokedAt!.toISOString() }
  })
}

/**
 * A customer's entitlements in force now or starting later, each with its source, and per
 * feature when access ends (`until: null`: for life; chained renewals count as one).
 */
export async function listCustomerEntitlements(
  db: Executor,
  input: { projectId: string; telegramUserId: number; now?: Date | undefined },
) {
  const now = input.now ?? new Date()
  const customerId = await customerIdOf(db, input.projectId, input.telegramUserId)
  const list = await listEntitlements(db, input.projectId, customerId, now)
  const access = []
  for (const featureKey of [...new Set(list.filter((e) => e.active).map((e) => e.featureKey))]) {
    const end = await accessEnd(db, input.projectId, customerId, featureKey, now)
    if (end !== null)
      access.push({ featureKey, until: end === 'lifetime' ? null : end.toISOString() })
  }
  return { entitlements: list, access }
}

/** The project settings access answers depend on: the time zone of calendar quotas and the low-balance threshold (0: no events). */
export async function configureAccess(
  db: Executor,
  input: {
    projectId: string
    timeZone?: string | undefined
    lowBalanceThreshold?: number | undefined
  },
) {
  if (input.timeZone !== undefined) assertTimeZone(input.timeZone)
  if (
    input.lowBalanceThreshold !== undefined &&
    (!Number.isSafeInteger(input.lowBalanceThreshold) || input.lowBalanceThreshold < 0)
  ) {
    throw new InvalidInput('lowBalanceThreshold', 'must be a whole number of credits, 0 or more')
  }
  const [row] = await db
    .update(projects)
    .set({
      ...(input.timeZone !== undefined ? { timeZone: input.timeZone } : {}),
      ...(input.lowBalanceThreshold !== undefined
        ? { lowBalanceThreshold: input.lowBalanceThreshold }
        : {}),
    })
    .where(eq(projects.id, input.projectId))
    .returning({ timeZone: projects.timeZone, lowBalanceThreshold: projects.lowBalanceThreshold })
  if (!row) throw new NotFound('Project', input.projectId)
  return row
}
