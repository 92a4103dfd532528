import { type Db, rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { CustomerBlocked } from '../errors.ts'
import { chainedHashSql, contentDigest, microsSql } from '../ledger/chain.ts'
import { lockCustomer } from '../ledger/customers.ts'
import { appendEntry } from '../ledger/entries.ts'
import { sweepExpired } from '../ledger/expiry.ts'
import { balanceOf } from '../ledger/grant.ts'
import { act, claimKeySql, hashRequest, requestOf } from '../ledger/idempotency.ts'
import { burnOrder, debit, takeFromLots } from '../ledger/lots.ts'
import { transact } from '../ledger/transaction.ts'

export interface Mutation {
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
 * The hottest call, so the common case takes two statements in one transaction
 * (`consumeAtOnce`); whenever it cannot decide on its own (a replayed or concurrent key, an expiry
 * to sweep, a low-balance crossing to report, too few credits, an unknown or blocked customer) it
 * writes nothing and the call takes the general path through `act`, which owns every error and
 * edge case. Both follow the one lock order: customer, then key, then lots.
 */
export async function consume(db: Db, input: ConsumeInput): Promise<ConsumeResult> {
  return (await consumeAtOnce(db, input)) ?? consumeInTransaction(db, input)
}

/** Thrown inside the fast path's transaction to roll back its claim and hand the call on. */
const HAND_ON = Symbol('hand on to the general path')

/**
 * The set-based form of `allocate`, in two statements:
 *
 *  1. lock the customer and claim the key, only when this path can decide alone;
 *  2. with a snapshot taken after that lock is held, so it sees every change committed before it
 *     (every writer of a customer's lots holds the customer's lock), debit the live lots in burn
 *     order, move the cached balance, append the entry and store the response.
 *
 * Its decisions are never read in the same statement as the lock they depend on: the first
 * version of this path did that, and under releases and settles racing it the guard and the
 * writes saw different row versions (an overspend attempt that only the CHECK constraints
 * stopped). Returns null, having written nothing, when the general path must decide.
 */
export async function consumeAtOnce(db: Db, input: ConsumeInput): Promise<ConsumeResult | null> {
  const now = (input.now ?? new Date()).toISOString()
  const n = input.amount
  const p = input.projectId
  const scope = { projectId: p, key: input.idempotencyKey, operation: 'consume' }
  const hash = hashRequest('consume', requestOf(input))
  try {
    return await transact(db, async (tx) => {
      const [claim] = await rows<{ key: string }>(
        tx,
        sql`with cust as (
              select c.id, c.available, c.next_expiry_at, c.blocked_at, pr.low_balance_threshold as threshold
              from customers c join projects pr on pr.id = c.project_id
              where c.project_id = ${p} and c.telegram_user_id = ${input.telegramUserId}
              for update of c
            )
            ${claimKeySql(
              scope,
              hash,
              sql`null`,
              sql`from cust where cust.blocked_at is null and cust.available >= ${n}::int8
                and (cust.next_expiry_at is null or cust.next_expiry_at > ${now}::timestamptz)
                and not (cust.threshold > 0 and cust.available >= cust.threshold
                         and cust.available - ${n}::int8 < cust.threshold)`,
            )}`,
      )
      if (!claim) throw HAND_ON
      const [done] = await rows<{ response: ConsumeResult | string | null }>(
        tx,
        sql`with live as (
              select id, remaining, sum(remaining) over (order by ${burnOrder}) as upto from grants
              where project_id = ${p}
                and customer_id = (select id from customers where project_id = ${p} and telegram_user_id = ${input.telegramUserId})
                and remaining > 0 and (expires_at is null or expires_at > ${now}::timestamptz)
            ),
            take as (
              select id, least(remaining, ${n}::int8 - (upto - remaining)) as amount, upto
              from live where upto - remaining < ${n}::int8
            ),
            enough as (select 1 where (select coalesce(sum(amount), 0) from take) = ${n}::int8),
            lot_changes as (
              update grants g set remaining = g.remaining - take.amount from take
              where exists (select 1 from enough) and g.project_id = ${p} and g.id = take.id
              returning g.id
            ),
            head_before as (
              select ledger_head from customers where project_id = ${p} and telegram_user_id = ${input.telegramUserId}
            ),
            customer_after as (
              update customers c set available = c.available - ${n}::int8, last_active_at = now(),
                ledger_head = ${chainedHashSql(sql`c.ledger_head`, consumeDigest(input), {
                  customerId: sql`c.id`,
                  availableAfter: sql`c.available - ${n}::int8`,
                  heldAfter: sql`c.held`,
                  debtAfter: sql`c.debt`,
                  lots: sql`(select string_agg(id::text || ':' || (-amount)::text, ',' order by upto) from take)`,
                  createdAtMicros: microsSql(sql`now()`),
                })}
              where exists (select 1 from enough) and c.project_id = ${p} and c.telegram_user_id = ${input.telegramUserId}
              returning c.id, c.available, c.held, c.debt, c.ledger_head
            ),
            entry as (
              insert into ledger_entries (project_id, customer_id, kind, amount, held_change, debt_change,
                available_after, held_after, debt_after, lots, reason, actor, idempotency_key, metadata,
                created_at, prev_hash, hash)
              select ${p}, customer_after.id, 'consume', -${n}::int8, 0, 0,
                customer_after.available, customer_after.held, customer_after.debt,
                (select coalesce(jsonb_agg(jsonb_build_object('lotId', id, 'amount', -amount) order by upto), '[]'::jsonb) from take),
                ${input.reason}, ${input.actor}, ${input.idempotencyKey},
                ${input.metadata ? JSON.stringify(input.metadata) : null}::jsonb,
                now(), (select ledger_head from head_before), customer_after.ledger_head
              from customer_after
              returning id, available_after, held_after, debt_after
            )
            update idempotency_keys set response = (
              select jsonb_build_object('entryId', id, 'consumed', ${n}::int8,
                'available', available_after, 'held', held_after, 'debt', debt_after) from entry)
            where project_id = ${p} and key = ${input.idempotencyKey} and exists (select 1 from entry)
            returning response`,
      )
      // The live lots held less than the cached balance said (an expiry not yet swept).
      if (!done?.response) throw HAND_ON
      const response = done.response
      return (typeof response === 'string' ? JSON.parse(response) : response) as ConsumeResult
    })
  } catch (error) {
    if (error === HAND_ON) return null
    throw error
  }
}

/** What the fast path's entry hashes as its content: the general path's `appendEntry` draft. */
function consumeDigest(input: ConsumeInput): string {
  return contentDigest({
    projectId: input.projectId,
    kind: 'consume',
    amount: -input.amount,
    heldChange: 0,
    debtChange: 0,
    grantId: null,
    holdId: null,
    reason: input.reason,
    actor: input.actor,
    idempotencyKey: input.idempotencyKey,
    metadata: input.metadata ?? null,
  })
}

/** The general path, through the one act door: every error and edge case lives here. */
export function consumeInTransaction(db: Db, input: ConsumeInput): Promise<ConsumeResult> {
  const now = input.now ?? new Date()
  return act(
    db,
    {
      projectId: input.projectId,
      key: input.idempotencyKey,
      operation: 'consume',
      request: requestOf(input),
    },
    (tx) => lockCustomer(tx, input.projectId, input.telegramUserId, { allowBlocked: true }),
    async (tx, customer) => {
      if (customer.blockedAt) throw new CustomerBlocked(input.telegramUserId)
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
    },
  )
}
