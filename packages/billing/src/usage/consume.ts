import type { Db, Tx } from '@e-stars/db'
import { CustomerBlocked, InsufficientCredits, NotFound } from '../errors.ts'
import { sweepExpired } from '../ledger/expiry.ts'
import { hashRequest, replay, requestOf, storedReplay } from '../ledger/idempotency.ts'
import { allocate, debit, total } from '../ledger/lots.ts'
import {
  flushStaged,
  liveStagedLots,
  newStagedCache,
  type StagedCache,
  stagedCustomer,
  stagedKey,
  writeStagedConsume,
} from '../ledger/staged.ts'
import { batchOf, transact } from '../ledger/transaction.ts'
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
 * calls share one transaction, one lock of their customer, one write of its row and one commit.
 * A lone call is a batch of one, so there is one implementation: `consumeInTransaction`.
 */
export function consume(db: Db, input: ConsumeInput): Promise<ConsumeResult> {
  return grouped(
    db,
    { projectId: input.projectId, telegramUserId: input.telegramUserId },
    (tx) => consumeInTransaction(tx, input),
    { staged: true },
  )
}

/**
 * One consume, in the caller's transaction or as a staged act of a group-commit batch: every
 * error and edge case lives here. Outside a batch it is a batch of one: it stages its customer,
 * writes, and writes the customer row back before it returns.
 */
export function consumeInTransaction(db: Db, input: ConsumeInput): Promise<ConsumeResult> {
  const batch = batchOf(db)
  if (batch?.staging) return consumeStaged(db as unknown as Tx, batch.staged, input)
  return transact(db, async (tx) => {
    const cache = newStagedCache()
    const result = await consumeStaged(tx, cache, input)
    await flushStaged(tx, cache)
    return result
  })
}

/**
 * The consume itself, on the batch's staged state (ledger/staged.ts), in the order of the act
 * door (`act`): the customer's lock (held by the batch), the key, then the lots. Every refusal is
 * decided before anything is written, so a refused call writes nothing and needs no savepoint:
 * a key already stored answers from it instead (replay or IdempotencyConflict), exactly as a
 * claim that fails would.
 */
async function consumeStaged(
  tx: Tx,
  cache: StagedCache,
  input: ConsumeInput,
): Promise<ConsumeResult> {
  const now = input.now ?? new Date()
  const scope = { projectId: input.projectId, key: input.idempotencyKey, operation: 'consume' }
  const requestHash = hashRequest('consume', requestOf(input))
  const customer = await stagedCustomer(tx, cache, input.projectId, input.telegramUserId)
  if (!customer) throw new NotFound('Customer', input.telegramUserId)
  const expiry = customer.locked.nextExpiryAt
  if (expiry && expiry <= now) return consumeAfterSweep(tx, cache, input, now)
  let refusal: Error | undefined
  let allocations: ReturnType<typeof allocate> = []
  if (customer.locked.blockedAt) refusal = new CustomerBlocked(input.telegramUserId)
  else if (customer.locked.available < input.amount)
    // The cached balance covers every live lot: refuse without reading them.
    refusal = new InsufficientCredits(customer.locked.available, input.amount)
  else {
    allocations = allocate(liveStagedLots(customer, now), input.amount)
    const taken = total(allocations)
    if (taken < input.amount) refusal = new InsufficientCredits(taken, input.amount)
  }
  if (refusal) {
    const stored = await storedReplay<ConsumeResult>(tx, scope, requestHash)
    if (stored.found) return stored.response
    throw refusal
  }
  const written = await writeStagedConsume(tx, cache, customer, {
    projectId: input.projectId,
    idempotencyKey: input.idempotencyKey,
    requestHash,
    amount: input.amount,
    lots: debit(allocations),
    reason: input.reason,
    actor: input.actor,
    metadata: input.metadata ?? null,
  })
  if (!written) return replay<ConsumeResult>(tx, scope, requestHash)
  return {
    entryId: written.entryId,
    consumed: written.consumed,
    available: written.available,
    held: written.held,
    debt: written.debt,
  }
}

/**
 * A lot or hold of the customer expired: the expiry entries come first (`sweepExpired`), in a
 * savepoint with the consume, so a refused consume leaves no trace, as ever. The staged state is
 * written back before and read again after the sweep, which writes through SQL.
 */
async function consumeAfterSweep(
  tx: Tx,
  cache: StagedCache,
  input: ConsumeInput,
  now: Date,
): Promise<ConsumeResult> {
  await flushStaged(tx, cache)
  const key = stagedKey(input.projectId, input.telegramUserId)
  const swept = cache.customers.get(key)!
  cache.customers.delete(key)
  try {
    return await transact(tx as unknown as Db, async (sp) => {
      await sweepExpired(sp, swept.locked, now)
      const customer = await stagedCustomer(sp, cache, input.projectId, input.telegramUserId)
      if (customer?.locked.nextExpiryAt && customer.locked.nextExpiryAt <= now) {
        throw new Error('sweepExpired left an expiry due') // never: it moves nextExpiryAt past now
      }
      return consumeStaged(sp, cache, input)
    })
  } catch (error) {
    cache.customers.delete(key)
    throw error
  }
}
