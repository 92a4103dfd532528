import { type Executor, holds, rows, type Tx } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { balanceOf } from './credits.ts'
import { type LockedCustomer, lockCustomer, lockCustomerById } from './customers.ts'
import { HoldNotActive, InvalidInput, NotFound } from './errors.ts'
import { parseAllocations, sweepExpired } from './expiry.ts'
import { idempotent } from './idempotency.ts'
import { appendEntry } from './ledger.ts'
import { debit, returnToLots, splitAllocations, takeFromLots, total } from './lots.ts'

interface Mutation {
  projectId: string
  idempotencyKey: string
  actor: string
  reason: string
  metadata?: Record<string, unknown> | undefined
  now?: Date | undefined
}

export interface ConsumeInput extends Mutation {
  telegramUserId: number
  amount: number
}

export interface ConsumeResult {
  entryId: number
  consumed: number
  available: number
  held: number
  debt: number
}

/** Spends credits now, from live lots in burn order. Never lets `available` go below zero. */
export async function consume(db: Executor, input: ConsumeInput): Promise<ConsumeResult> {
  const now = input.now ?? new Date()
  return mutate(db, 'consume', input, async (tx) => {
    const customer = await lockCustomer(tx, input.projectId, input.telegramUserId)
    await sweepExpired(tx, customer, now)
    const allocations = await takeFromLots(tx, customer, input.amount, now)
    const after = await appendEntry(tx, customer, {
      kind: 'consume',
      amount: -input.amount,
      lots: debit(allocations),
      reason: input.reason,
      actor: input.actor,
      idempotencyKey: input.idempotencyKey,
      metadata: input.metadata ?? null,
    })
    return { entryId: after.entryId, consumed: input.amount, ...balanceOf(after) }
  })
}

export const DEFAULT_HOLD_TTL_SECONDS = 15 * 60
export const MAX_HOLD_TTL_SECONDS = 24 * 60 * 60

export interface ReserveInput extends ConsumeInput {
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

/** Moves credits from available to held, remembering which lots they came from. */
export async function reserve(db: Executor, input: ReserveInput): Promise<ReserveResult> {
  const now = input.now ?? new Date()
  const ttl = input.ttlSeconds ?? DEFAULT_HOLD_TTL_SECONDS
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_HOLD_TTL_SECONDS) {
    throw new InvalidInput(
      'ttlSeconds',
      `must be a whole number of seconds from 1 to ${MAX_HOLD_TTL_SECONDS}`,
    )
  }
  return mutate(db, 'reserve', input, async (tx) => {
    const customer = await lockCustomer(tx, input.projectId, input.telegramUserId)
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
  })
}

export interface SettleInput extends Omit<Mutation, 'reason'> {
  holdId: string
  /** The actual cost. */
  amount: number
  reason?: string | undefined
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
export async function settle(db: Executor, input: SettleInput): Promise<SettleResult> {
  const now = input.now ?? new Date()
  return mutate(db, 'settle', input, async (tx) => {
    const { customer, hold } = await lockHold(tx, input.projectId, input.holdId, now)
    const reserved = hold.amount
    const overage = Math.max(0, input.amount - reserved)
    let extra: Awaited<ReturnType<typeof takeFromLots>> = []
    let shortfall = 0
    if (overage > 0) {
      if (customer.available >= overage) extra = await takeFromLots(tx, customer, overage, now)
      else shortfall = overage
    }
    const charged = Math.min(input.amount, reserved) + total(extra)
    const back = splitAllocations(hold.allocations, Math.min(input.amount, reserved))
    const { returned, expired } = await returnToLots(tx, customer, back, now)
    await closeHold(tx, input.projectId, input.holdId, 'settled', charged, now)
    const after = await appendEntry(tx, customer, {
      kind: 'settle',
      amount: total(returned) - total(extra),
      heldChange: -reserved,
      lots: [...returned, ...debit(extra)],
      holdId: input.holdId,
      reason: input.reason ?? hold.reason,
      actor: input.actor,
      idempotencyKey: input.idempotencyKey,
      metadata: {
        ...input.metadata,
        actual: input.amount,
        charged,
        shortfall,
        lostWithExpiredLots: expired,
      },
    })
    return {
      holdId: input.holdId,
      entryId: after.entryId,
      reserved,
      charged,
      returned: total(returned),
      shortfall,
      ...balanceOf(after),
    }
  })
}

export interface ReleaseInput extends Omit<Mutation, 'reason'> {
  holdId: string
  reason?: string | undefined
}

export interface ReleaseResult {
  holdId: string
  entryId: number
  returned: number
  available: number
  held: number
  debt: number
}

/** Cancels a hold: all its credits go back to the lots they came from. */
export async function release(db: Executor, input: ReleaseInput): Promise<ReleaseResult> {
  const now = input.now ?? new Date()
  return mutate(db, 'release', input, async (tx) => {
    const { customer, hold } = await lockHold(tx, input.projectId, input.holdId, now)
    const { returned, expired } = await returnToLots(tx, customer, hold.allocations, now)
    await closeHold(tx, input.projectId, input.holdId, 'released', 0, now)
    const after = await appendEntry(tx, customer, {
      kind: 'release',
      amount: total(returned),
      heldChange: -hold.amount,
      lots: returned,
      holdId: input.holdId,
      reason: input.reason ?? hold.reason,
      actor: input.actor,
      idempotencyKey: input.idempotencyKey,
      metadata: { ...input.metadata, lostWithExpiredLots: expired },
    })
    return {
      holdId: input.holdId,
      entryId: after.entryId,
      returned: total(returned),
      ...balanceOf(after),
    }
  })
}

/** One transaction, idempotent by key; the request fingerprint leaves out the clock. */
function mutate<I extends { projectId: string; idempotencyKey: string; now?: Date | undefined }, R>(
  db: Executor,
  operation: string,
  input: I,
  apply: (tx: Tx) => Promise<R>,
) {
  const { now: _now, idempotencyKey, ...request } = input
  return db.transaction((tx) =>
    idempotent(tx, { projectId: input.projectId, key: idempotencyKey, operation, request }, () =>
      apply(tx),
    ),
  )
}

async function lockHold(tx: Tx, projectId: string, holdId: string, now: Date) {
  const [owner] = await rows<{ customer_id: string }>(
    tx,
    sql`select customer_id from holds where project_id = ${projectId} and id = ${holdId}`,
  )
  if (!owner) throw new NotFound('Hold', holdId)
  const customer: LockedCustomer = await lockCustomerById(tx, projectId, Number(owner.customer_id))
  await sweepExpired(tx, customer, now)
  const [hold] = await rows<{
    amount: string
    allocations: unknown
    status: string
    reason: string
  }>(
    tx,
    sql`select amount, allocations, status, reason from holds where project_id = ${projectId} and id = ${holdId}`,
  )
  if (hold?.status !== 'active') throw new HoldNotActive(holdId, hold?.status ?? 'missing')
  return {
    customer,
    hold: {
      amount: Number(hold.amount),
      allocations: parseAllocations(hold.allocations),
      reason: hold.reason,
    },
  }
}

async function closeHold(
  tx: Tx,
  projectId: string,
  holdId: string,
  status: string,
  charged: number,
  now: Date,
) {
  await tx.execute(
    sql`update holds set status = ${status}, settled_amount = ${charged}, closed_at = ${now.toISOString()}::timestamptz
        where project_id = ${projectId} and id = ${holdId}`,
  )
}
