import type { Db } from '@e-stars/db'
import { CustomerBlocked } from '../errors.ts'
import { lockCustomer } from '../ledger/customers.ts'
import { appendEntry } from '../ledger/entries.ts'
import { sweepExpired } from '../ledger/expiry.ts'
import { balanceOf } from '../ledger/grant.ts'
import { act, requestOf } from '../ledger/idempotency.ts'
import { debit, takeFromLots } from '../ledger/lots.ts'
import type { UsageRecord } from '../margin/usage.ts'
import { grouped } from './group-commit.ts'

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
  /** The act's usage record (issue 14): its cost goes on the consume entry, checked against the cost caps. */
  usage?: UsageRecord | undefined
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
 * The hottest call: it joins its customer's next group-commit batch (`grouped`), where concurrent
 * calls share one transaction and one commit. A lone call is a batch of one, so there is one
 * implementation: `consumeInTransaction`, through `takeFromLots` and `appendEntry`.
 */
export function consume(db: Db, input: ConsumeInput): Promise<ConsumeResult> {
  return grouped(db, { projectId: input.projectId, telegramUserId: input.telegramUserId }, (tx) =>
    consumeInTransaction(tx, input),
  )
}

/**
 * One consume through the one act door, in the caller's transaction or, inside a batch, in a
 * savepoint of it: every error and edge case lives here.
 */
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
        usage: input.usage,
        metadata: input.metadata ?? null,
      })
      return { entryId: after.entryId, consumed: input.amount, ...balanceOf(after) }
    },
  )
}
