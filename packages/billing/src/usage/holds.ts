import { type Db, holds, rows, type Tx } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { CustomerBlocked, HoldNotActive, InvalidInput, NotFound } from '../errors.ts'
import { type LockedCustomer, lockCustomer, lockCustomerById } from '../ledger/customers.ts'
import { appendEntry } from '../ledger/entries.ts'
import { sweepExpired } from '../ledger/expiry.ts'
import { balanceOf } from '../ledger/grant.ts'
import {
  closeHold,
  type EntryFacts,
  type HeldCredits,
  parseAllocations,
  releaseHeldCredits,
} from '../ledger/held.ts'
import { act, requestOf } from '../ledger/idempotency.ts'
import {
  type Allocation,
  allocate,
  debit,
  liveLots,
  returnToLots,
  splitAllocations,
  takeFromLots,
  total,
} from '../ledger/lots.ts'
import type { UsageRecord } from '../margin/usage.ts'
import type { ConsumeInput, Mutation } from './consume.ts'
import { grouped } from './group-commit.ts'

export const DEFAULT_HOLD_TTL_SECONDS = 15 * 60
export const MAX_HOLD_TTL_SECONDS = 24 * 60 * 60

export interface ReserveInput extends Omit<ConsumeInput, 'usage'> {
  /** How long the hold lives before its credits return on their own. */
  ttlSeconds?: number | undefined
}

export interface ReserveResult {
  holdId: string
  entryId: number
  amount: number
  /** ISO-8601 instant; results are JSON so a replay returns exactly what the first call did. */
  expiresAt: string
  available: number
  held: number
  debt: number
}

/** Moves credits from available to held, remembering which lots they came from (group-committed). */
export function reserve(db: Db, input: ReserveInput): Promise<ReserveResult> {
  return grouped(db, { projectId: input.projectId, telegramUserId: input.telegramUserId }, (tx) =>
    reserveInTransaction(tx, input),
  )
}

/** One reserve, in the caller's transaction or a batch's savepoint. */
export async function reserveInTransaction(db: Db, input: ReserveInput): Promise<ReserveResult> {
  const now = input.now ?? new Date()
  const ttl = input.ttlSeconds ?? DEFAULT_HOLD_TTL_SECONDS
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_HOLD_TTL_SECONDS) {
    throw new InvalidInput(
      'ttlSeconds',
      `must be a whole number of seconds from 1 to ${MAX_HOLD_TTL_SECONDS}`,
    )
  }
  return act(
    db,
    {
      projectId: input.projectId,
      key: input.idempotencyKey,
      operation: 'reserve',
      request: requestOf(input),
    },
    (tx) => lockCustomer(tx, input.projectId, input.telegramUserId, { allowBlocked: true }),
    async (tx, customer) => {
      if (customer.blockedAt) throw new CustomerBlocked(input.telegramUserId)
      await sweepExpired(tx, customer, now)
      const allocations = await takeFromLots(tx, customer, input.amount, now)
      const expiresAt = new Date(now.getTime() + ttl * 1000)
      const [hold] = await tx
        .insert(holds)
        .values({
          projectId: input.projectId,
          customerId: customer.id,
          amount: input.amount,
          allocations,
          reason: input.reason,
          expiresAt,
        })
        .returning({ id: holds.id })
      const after = await appendEntry(tx, customer, {
        kind: 'hold',
        amount: -input.amount,
        heldChange: input.amount,
        lots: debit(allocations),
        holdId: hold!.id,
        reason: input.reason,
        actor: input.actor,
        idempotencyKey: input.idempotencyKey,
        metadata: input.metadata ?? null,
        nextExpiryAt:
          !customer.nextExpiryAt || expiresAt < customer.nextExpiryAt ? expiresAt : undefined,
      })
      return {
        holdId: hold!.id,
        entryId: after.entryId,
        amount: input.amount,
        expiresAt: expiresAt.toISOString(),
        ...balanceOf(after),
      }
    },
  )
}

export interface SettleInput extends Omit<Mutation, 'reason'> {
  holdId: string
  /** The actual cost. */
  amount: number
  reason?: string | undefined
  /** The act's usage record (issue 14): its cost goes on the settle entry. */
  usage?: UsageRecord | undefined
}

export interface SettleResult {
  holdId: string
  entryId: number
  /** Credits the hold had reserved. */
  reserved: number
  /** Credits actually spent: the actual cost, or what was reserved when the overage could not be paid. */
  charged: number
  /** Credits that went back to their lots. */
  returned: number
  /** Credits that came back from the hold and repaid an outstanding debt instead (debt is repaid first). */
  repaid: number
  /** Part of the actual cost that could not be charged (only when actual > reserved and the overage was not available). */
  shortfall: number
  available: number
  held: number
  debt: number
}

/**
 * Closes a hold at its actual cost. actual ≤ reserved: the rest goes back to the lots it came
 * from. actual > reserved: the difference is taken from live lots if all of it is available;
 * otherwise only what was reserved is charged and the unpaid part is reported as `shortfall`
 * (never a negative balance, never a partial overage).
 */
export function settle(db: Db, input: SettleInput): Promise<SettleResult> {
  return grouped(db, { projectId: input.projectId, holdId: input.holdId }, (tx) =>
    settleInTransaction(tx, input),
  )
}

/** One settle, in the caller's transaction or a batch's savepoint. */
export async function settleInTransaction(db: Db, input: SettleInput): Promise<SettleResult> {
  const now = input.now ?? new Date()
  if (!Number.isSafeInteger(input.amount) || input.amount < 0) {
    throw new InvalidInput('amount', 'must be a whole number of credits, 0 or more')
  }
  return act(
    db,
    {
      projectId: input.projectId,
      key: input.idempotencyKey,
      operation: 'settle',
      request: requestOf(input),
    },
    (tx) => lockHoldOwner(tx, input.projectId, input.holdId),
    async (tx, customer) => {
      await sweepExpired(tx, customer, now)
      const hold = await activeHold(tx, customer, input.holdId)
      const { reserved, charged, returned, repaid, shortfall, after } = await settleHeldCredits(
        tx,
        customer,
        hold,
        input.amount,
        now,
        {
          reason: input.reason ?? hold.reason,
          actor: input.actor,
          idempotencyKey: input.idempotencyKey,
          usage: input.usage,
          metadata: input.metadata ?? {},
        },
      )
      return {
        holdId: input.holdId,
        entryId: after.entryId,
        reserved,
        charged,
        returned,
        repaid,
        shortfall,
        ...balanceOf(after),
      }
    },
  )
}

/**
 * The settle rule, in one place for credit holds and feature reservations: the actual cost up to
 * what was held is charged from the hold (in allocation order) and the rest goes back to its lots;
 * an overage is charged only if all of it is available, else it is reported as `shortfall`.
 * The caller holds the customer lock and has checked the hold is active.
 */
export async function settleHeldCredits(
  tx: Tx,
  customer: LockedCustomer,
  hold: HeldCredits,
  cost: number,
  now: Date,
  facts: EntryFacts,
) {
  const reserved = hold.amount
  const overage = Math.max(0, cost - reserved)
  let extra: Allocation[] = []
  let shortfall = 0
  if (overage > 0) {
    // All of the overage or none of it: a live lot may have expired unswept, so ask the lots.
    const live =
      customer.available >= overage ? allocate(await liveLots(tx, customer, now), overage) : []
    if (total(live) === overage) extra = live
    else shortfall = overage
  }
  const charged = Math.min(cost, reserved) + total(extra)
  const back = splitAllocations(hold.allocations, Math.min(cost, reserved))
  const { returned, expired, repaid } = await returnToLots(tx, customer, back, now)
  await closeHold(tx, customer.projectId, hold.id, 'settled', charged, now)
  const after = await appendEntry(tx, customer, {
    kind: 'settle',
    amount: total(returned) - total(extra),
    heldChange: -reserved,
    debtChange: -repaid,
    lots: [...returned, ...debit(extra)],
    holdId: hold.id,
    reason: facts.reason,
    actor: facts.actor,
    idempotencyKey: facts.idempotencyKey,
    usage: facts.usage,
    metadata: {
      ...facts.metadata,
      actual: cost,
      charged,
      shortfall,
      lostWithExpiredLots: expired,
      ...(repaid ? { repaid } : {}),
    },
  })
  return { reserved, charged, returned: total(returned), repaid, shortfall, after }
}

export interface ReleaseInput extends Omit<Mutation, 'reason'> {
  holdId: string
  reason?: string | undefined
}

export interface ReleaseResult {
  holdId: string
  entryId: number
  returned: number
  /** Credits that repaid an outstanding debt instead of going back to their lots. */
  repaid: number
  available: number
  held: number
  debt: number
}

/** Cancels a hold: all its credits go back to the lots they came from. */
export function release(db: Db, input: ReleaseInput): Promise<ReleaseResult> {
  return grouped(db, { projectId: input.projectId, holdId: input.holdId }, (tx) =>
    releaseInTransaction(tx, input),
  )
}

/** One release, in the caller's transaction or a batch's savepoint. */
export async function releaseInTransaction(db: Db, input: ReleaseInput): Promise<ReleaseResult> {
  const now = input.now ?? new Date()
  return act(
    db,
    {
      projectId: input.projectId,
      key: input.idempotencyKey,
      operation: 'release',
      request: requestOf(input),
    },
    (tx) => lockHoldOwner(tx, input.projectId, input.holdId),
    async (tx, customer) => {
      await sweepExpired(tx, customer, now)
      const hold = await activeHold(tx, customer, input.holdId)
      const { returned, repaid, after } = await releaseHeldCredits(
        tx,
        customer,
        hold,
        { kind: 'release', now },
        {
          reason: input.reason ?? hold.reason,
          actor: input.actor,
          idempotencyKey: input.idempotencyKey,
          metadata: input.metadata ?? {},
        },
      )
      return {
        holdId: input.holdId,
        entryId: after.entryId,
        returned,
        repaid,
        ...balanceOf(after),
      }
    },
  )
}

/**
 * The lock step of settle and release: the hold's customer. A feature reservation's hold is
 * closed with its reservation (settleFeature / releaseFeature), or the reserved units would keep
 * counting against the quota.
 */
async function lockHoldOwner(tx: Tx, projectId: string, holdId: string): Promise<LockedCustomer> {
  const [owner] = await rows<{ customer_id: string; reserved: boolean }>(
    tx,
    sql`select h.customer_id, exists (
          select 1 from usage_reservations r
          where r.project_id = h.project_id and r.customer_id = h.customer_id
            and r.status = 'active' and r.hold_id = h.id
        ) as reserved
        from holds h where h.project_id = ${projectId} and h.id = ${holdId}`,
  )
  if (!owner) throw new NotFound('Hold', holdId)
  if (owner.reserved) {
    throw new InvalidInput(
      'holdId',
      'belongs to a feature reservation: settle or release it by feature',
    )
  }
  return lockCustomerById(tx, projectId, Number(owner.customer_id))
}

/** The hold as it is now, under its customer's lock; HoldNotActive once settled, released or expired. */
export async function activeHold(
  tx: Tx,
  customer: LockedCustomer,
  holdId: string,
): Promise<HeldCredits & { reason: string }> {
  const [hold] = await rows<{
    amount: string
    allocations: unknown
    status: string
    reason: string
  }>(
    tx,
    sql`select amount, allocations, status, reason from holds
        where project_id = ${customer.projectId} and customer_id = ${customer.id} and id = ${holdId}::uuid`,
  )
  if (hold?.status !== 'active') throw new HoldNotActive(holdId, hold?.status ?? 'missing')
  return {
    id: holdId,
    amount: Number(hold.amount),
    allocations: parseAllocations(hold.allocations),
    reason: hold.reason,
  }
}
