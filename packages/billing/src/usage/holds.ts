import { type Executor, holds, rows, type Tx } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import {
  CustomerBlocked,
  HoldNotActive,
  InsufficientCredits,
  InvalidInput,
  NotFound,
} from '../errors.ts'
import {
  type CustomerRow,
  type LockedCustomer,
  lockCustomer,
  lockCustomerById,
  lockedColumns,
  toLocked,
} from '../ledger/customers.ts'
import { appendEntry } from '../ledger/entries.ts'
import { noteBalanceCrossing } from '../ledger/events.ts'
import { parseAllocations, sweepExpired } from '../ledger/expiry.ts'
import { balanceOf } from '../ledger/grant.ts'
import { hashRequest, idempotent, replay } from '../ledger/idempotency.ts'
import {
  type Allocation,
  burnOrder,
  debit,
  returnToLots,
  splitAllocations,
  takeFromLots,
  total,
} from '../ledger/lots.ts'

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

/**
 * Spends credits now, from live lots in burn order. Never lets `available` go below zero.
 *
 * The hottest call, so the common case is one statement (`consumeAtOnce`): lock the customer,
 * lock its live lots, debit them, move the cached balance, append the ledger entry and store the
 * idempotent response — or change nothing at all. Whenever that statement cannot decide on its
 * own (a replayed or concurrent key, an expiry to sweep, a low-balance crossing to report, too
 * few credits, an unknown or blocked customer) it writes nothing and the call takes the general
 * transactional path, which owns every error and edge case.
 */
export async function consume(db: Executor, input: ConsumeInput): Promise<ConsumeResult> {
  return (await consumeAtOnce(db, input)) ?? consumeInTransaction(db, input)
}

/**
 * One autocommitted statement. Locks are taken customer first (the lots' scan waits on the
 * customer's id), then its lots, the same order as every other path. Under READ COMMITTED a
 * `FOR UPDATE` row is re-read at its newest version once locked, so the lots and the balance it
 * works on are current even if it waited; a lot committed (or refilled from zero) while it
 * waited is not seen, and then the live lots it saw do not add up to the cached balance, so it
 * gives up to the general path rather than break the burn order. It never overspends.
 */
async function consumeAtOnce(db: Executor, input: ConsumeInput): Promise<ConsumeResult | null> {
  const now = (input.now ?? new Date()).toISOString()
  const { now: _now, idempotencyKey, ...request } = input
  const hash = hashRequest('consume', request)
  const n = input.amount
  const p = input.projectId
  const [row] = await rows<{ response: ConsumeResult | string | null }>(
    db,
    sql`with cust as (
          select c.id, c.available, c.held, c.debt, c.next_expiry_at, c.blocked_at, pr.low_balance_threshold as threshold
          from customers c join projects pr on pr.id = c.project_id
          where c.project_id = ${p} and c.telegram_user_id = ${input.telegramUserId}
          for update of c
        ),
        lots as (
          select id, remaining, expires_at, priority from grants
          where project_id = ${p} and customer_id = (select id from cust) and remaining > 0
            and (expires_at is null or expires_at > ${now}::timestamptz)
          for update
        ),
        live as (select id, remaining, sum(remaining) over (order by ${burnOrder}) as upto from lots),
        take as (
          select id, least(remaining, ${n}::int8 - (upto - remaining)) as amount, upto
          from live where upto - remaining < ${n}::int8
        ),
        go as (
          select nextval('ledger_entries_id_seq') as entry_id, cust.*
          from cust
          where cust.blocked_at is null
            and (cust.next_expiry_at is null or cust.next_expiry_at > ${now}::timestamptz)
            and not (cust.threshold > 0 and cust.available >= cust.threshold and cust.available - ${n}::int8 < cust.threshold)
            and (select coalesce(sum(amount), 0) from take) = ${n}::int8
            and (select coalesce(sum(remaining), 0) from lots) = cust.available
        ),
        claim as (
          insert into idempotency_keys (project_id, key, operation, request_hash, response)
          select ${p}, ${idempotencyKey}, 'consume', ${hash},
            jsonb_build_object('entryId', entry_id, 'consumed', ${n}::int8,
              'available', available - ${n}::int8, 'held', held, 'debt', debt)
          from go
          on conflict do nothing
          returning response
        ),
        lot_changes as (
          update grants g set remaining = g.remaining - take.amount from take
          where exists (select 1 from claim) and g.project_id = ${p} and g.id = take.id
          returning g.id
        ),
        customer_after as (
          update customers c set available = c.available - ${n}::int8, last_active_at = now()
          from go where exists (select 1 from claim) and c.project_id = ${p} and c.id = go.id
          returning c.available, c.held, c.debt
        ),
        entry as (
          insert into ledger_entries (id, project_id, customer_id, kind, amount, held_change, debt_change,
            available_after, held_after, debt_after, lots, reason, actor, idempotency_key, metadata)
          overriding system value
          select go.entry_id, ${p}, go.id, 'consume', -${n}::int8, 0, 0,
            customer_after.available, customer_after.held, customer_after.debt,
            (select coalesce(jsonb_agg(jsonb_build_object('lotId', id, 'amount', -amount) order by upto), '[]'::jsonb) from take),
            ${input.reason}, ${input.actor}, ${idempotencyKey},
            ${input.metadata ? JSON.stringify(input.metadata) : null}::jsonb
          from go, customer_after
          returning id
        )
        select (select response from claim) as response, (select count(*) from entry) as written`,
  )
  const response = row?.response
  if (!response) return null
  return (typeof response === 'string' ? JSON.parse(response) : response) as ConsumeResult
}

/** The general path: claim the key, lock, sweep, then spend — every error and edge case lives here. */
async function consumeInTransaction(db: Executor, input: ConsumeInput): Promise<ConsumeResult> {
  const now = input.now ?? new Date()
  const { now: _now, idempotencyKey, ...request } = input
  const scope = { projectId: input.projectId, key: idempotencyKey, operation: 'consume' }
  const hash = hashRequest('consume', request)
  return db.transaction(async (tx) => {
    const [claim] = await rows<{ claimed: number; customer: CustomerRow | null }>(
      tx,
      // Customer lock first, then the key: the same order as the one-statement path, so a retry
      // racing its first attempt waits instead of deadlocking.
      sql`with c as (
            select ${lockedColumns} from customers
            where project_id = ${input.projectId} and telegram_user_id = ${input.telegramUserId}
            for update
          ),
          claim as (
            insert into idempotency_keys (project_id, key, operation, request_hash)
            select ${input.projectId}, ${idempotencyKey}, 'consume', ${hash} from c
            on conflict do nothing returning 1
          )
          select (select count(*)::int from claim) as claimed,
            (select row_to_json(c) from c) as customer`,
    )
    if (!claim!.customer) throw new NotFound('Customer', input.telegramUserId)
    if (!claim!.claimed) return replay<ConsumeResult>(tx, scope, hash)
    const customer = toLocked(input.projectId, claim!.customer)
    if (customer.blockedAt) throw new CustomerBlocked(input.telegramUserId)
    await sweepExpired(tx, customer, now)
    if (customer.available < input.amount)
      throw new InsufficientCredits(customer.available, input.amount)
    const [done] = await rows<{
      enough: boolean
      available: string
      response: ConsumeResult | string | null
      threshold: string | null
    }>(
      tx,
      sql`with live as (
            select id, remaining, sum(remaining) over (order by ${burnOrder}) as upto
            from grants
            where project_id = ${input.projectId} and customer_id = ${customer.id} and remaining > 0
              and (expires_at is null or expires_at > ${now.toISOString()}::timestamptz)
          ),
          take as (
            select id, least(remaining, ${input.amount}::int8 - (upto - remaining)) as amount, upto
            from live where upto - remaining < ${input.amount}::int8
          ),
          ok as (select coalesce(sum(amount), 0) = ${input.amount}::int8 as enough from take),
          lot_changes as (
            update grants g set remaining = g.remaining - take.amount from take, ok
            where ok.enough and g.project_id = ${input.projectId} and g.customer_id = ${customer.id} and g.id = take.id
            returning g.id
          ),
          customer_after as (
            update customers set available = available - ${input.amount}::int8, last_active_at = now()
            from ok where ok.enough and project_id = ${input.projectId} and id = ${customer.id}
            returning available, held, debt
          ),
          entry as (
            insert into ledger_entries (project_id, customer_id, kind, amount, held_change, debt_change,
              available_after, held_after, debt_after, lots, reason, actor, idempotency_key, metadata)
            select ${input.projectId}, ${customer.id}, 'consume', -${input.amount}::int8, 0, 0,
              available, held, debt,
              (select coalesce(jsonb_agg(jsonb_build_object('lotId', id, 'amount', -amount) order by upto), '[]'::jsonb) from take),
              ${input.reason}, ${input.actor}, ${idempotencyKey},
              ${input.metadata ? JSON.stringify(input.metadata) : null}::jsonb
            from customer_after
            returning id, available_after, held_after, debt_after
          ),
          stored as (
            update idempotency_keys set response = (
              select jsonb_build_object('entryId', id, 'consumed', ${input.amount}::int8,
                'available', available_after, 'held', held_after, 'debt', debt_after) from entry)
            where project_id = ${input.projectId} and key = ${idempotencyKey} and exists (select 1 from entry)
            returning response
          )
          select (select enough from ok) as enough,
            (select coalesce(sum(remaining), 0) from live) as available,
            (select response from stored) as response,
            (select low_balance_threshold from projects where id = ${input.projectId}) as threshold`,
    )
    if (!done!.enough) throw new InsufficientCredits(Number(done!.available), input.amount)
    const response = (
      typeof done!.response === 'string' ? JSON.parse(done!.response) : done!.response
    ) as ConsumeResult
    const threshold = Number(done!.threshold ?? 0)
    if (threshold > 0) {
      await noteBalanceCrossing(tx, customer, {
        kind: 'consume',
        before: response.available + input.amount,
        after: response.available,
        threshold,
        entryId: response.entryId,
      })
    }
    return response
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
  if (!Number.isSafeInteger(input.amount) || input.amount < 0) {
    throw new InvalidInput('amount', 'must be a whole number of credits, 0 or more')
  }
  return mutate(db, 'settle', input, async (tx) => {
    const { customer, hold } = await lockHold(tx, input.projectId, input.holdId, now)
    const { reserved, charged, returned, shortfall, after } = await settleHeldCredits(
      tx,
      customer,
      { id: input.holdId, ...hold },
      input.amount,
      now,
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
      reserved,
      charged,
      returned,
      shortfall,
      ...balanceOf(after),
    }
  })
}

export interface HeldCredits {
  id: string
  amount: number
  allocations: Allocation[]
}

export interface EntryFacts {
  reason: string
  actor: string
  idempotencyKey: string
  metadata: Record<string, unknown>
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
    if (customer.available >= overage) extra = await takeFromLots(tx, customer, overage, now)
    else shortfall = overage
  }
  const charged = Math.min(cost, reserved) + total(extra)
  const back = splitAllocations(hold.allocations, Math.min(cost, reserved))
  const { returned, expired } = await returnToLots(tx, customer, back, now)
  await closeHold(tx, customer.projectId, hold.id, 'settled', charged, now)
  const after = await appendEntry(tx, customer, {
    kind: 'settle',
    amount: total(returned) - total(extra),
    heldChange: -reserved,
    lots: [...returned, ...debit(extra)],
    holdId: hold.id,
    reason: facts.reason,
    actor: facts.actor,
    idempotencyKey: facts.idempotencyKey,
    metadata: { ...facts.metadata, actual: cost, charged, shortfall, lostWithExpiredLots: expired },
  })
  return { reserved, charged, returned: total(returned), shortfall, after }
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
  // A feature reservation's hold is closed with its reservation (settleFeature / releaseFeature),
  // or the reserved units would keep counting against the quota.
  if (owner.reserved) {
    throw new InvalidInput(
      'holdId',
      'belongs to a feature reservation: settle or release it by feature',
    )
  }
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

export async function closeHold(
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
