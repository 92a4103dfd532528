import { type Db, rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { CustomerBlocked } from '../errors.ts'
import { lockCustomer } from '../ledger/customers.ts'
import { appendEntry } from '../ledger/entries.ts'
import { sweepExpired } from '../ledger/expiry.ts'
import { balanceOf } from '../ledger/grant.ts'
import { act, claimKeySql, hashRequest, requestOf } from '../ledger/idempotency.ts'
import { burnOrder, debit, takeFromLots } from '../ledger/lots.ts'
import { retryingConflicts } from '../ledger/transaction.ts'

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
 * The hottest call, so the common case is one statement (`consumeAtOnce`): lock the customer,
 * lock its live lots, debit them, move the cached balance, append the ledger entry and store the
 * idempotent response — or change nothing at all. Whenever that statement cannot decide on its
 * own (a replayed or concurrent key, an expiry to sweep, a low-balance crossing to report, too
 * few credits, an unknown or blocked customer) it writes nothing and the call takes the general
 * transactional path, which owns every error and edge case.
 */
export async function consume(db: Db, input: ConsumeInput): Promise<ConsumeResult> {
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
export async function consumeAtOnce(db: Db, input: ConsumeInput): Promise<ConsumeResult | null> {
  const now = (input.now ?? new Date()).toISOString()
  const { idempotencyKey } = input
  const hash = hashRequest('consume', requestOf(input))
  const n = input.amount
  const p = input.projectId
  const [row] = await retryingConflicts(() =>
    rows<{ response: ConsumeResult | string | null }>(
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
        claim as (${claimKeySql(
          { projectId: p, key: idempotencyKey, operation: 'consume' },
          hash,
          sql`jsonb_build_object('entryId', entry_id, 'consumed', ${n}::int8,
              'available', available - ${n}::int8, 'held', held, 'debt', debt)`,
          sql`from go`,
        )}),
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
    ),
  )
  const response = row?.response
  if (!response) return null
  return (typeof response === 'string' ? JSON.parse(response) : response) as ConsumeResult
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
