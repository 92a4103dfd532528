import type { Db, Tx } from '@e-stars/db'
import { type SQL, sql } from 'drizzle-orm'
import { CustomerBlocked, IdempotencyConflict, InsufficientCredits, NotFound } from '../errors.ts'
import { lockCustomer } from '../ledger/customers.ts'
import { appendEntry } from '../ledger/entries.ts'
import { sweepExpired } from '../ledger/expiry.ts'
import { balanceOf } from '../ledger/grant.ts'
import { act, hashRequest, requestOf } from '../ledger/idempotency.ts'
import { allocate, debit, takeFromLots, total } from '../ledger/lots.ts'
import {
  claimKeys,
  liveStagedLots,
  lockAndStage,
  newStagedCache,
  releaseClaims,
  restoreStaged,
  type StagedCache,
  type StagedCustomer,
  type StagedEntry,
  type StoredKey,
  snapshotStaged,
  stagedKey,
  stageEntry,
  writeOptimistic,
  writeStaged,
} from '../ledger/staged.ts'
import { transact } from '../ledger/transaction.ts'
import { reportCostCapRefusal } from '../margin/cap-events.ts'
import type { UsageRecord } from '../margin/usage.ts'
import { groupedStaged, type RunOutcome } from './group-commit.ts'

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
  /** The act's usage record (issue 14): its cost goes on the entry, checked against the cost caps. */
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
 * consumes are decided together on the batch's staged state and written in two statements for
 * the whole run of them: one lock of each customer, one write of its row, one commit. A lone
 * call is a batch of one, so there is one implementation: `consumeRun`.
 */
export function consume(db: Db, input: ConsumeInput): Promise<ConsumeResult> {
  return (
    groupedStaged(
      db,
      { projectId: input.projectId, telegramUserId: input.telegramUserId },
      {
        input,
        runMany: consumeRun,
      },
    ) as Promise<ConsumeResult>
  ).catch(async (error: unknown) => {
    throw await reportCostCapRefusal(db, input, error)
  })
}

/**
 * One consume in the caller's transaction (a savepoint of it): a run of one.
 */
export function consumeInTransaction(db: Db, input: ConsumeInput): Promise<ConsumeResult> {
  return transact(db, async (tx) => {
    const [outcome] = await consumeRun(tx, newStagedCache(), [input])
    if (!outcome!.ok) throw outcome!.error
    return outcome!.value as ConsumeResult
  })
}

/**
 * Consumes in arrival order, on the staged state of the customers they name (ledger/staged.ts),
 * each decided on its own as the act door (`act`) would decide it alone after the ones before
 * it: the customer (NotFound), the key (replay, IdempotencyConflict), then blocked and the lots
 * (InsufficientCredits). Returns one outcome per input; throws only what aborts the transaction.
 *
 * A customer with a lot or hold due to expire is swept first (`sweepExpired`) in a savepoint
 * with its consume, alone, so a refused consume leaves no trace, as ever.
 */
export async function consumeRun(
  tx: Tx,
  cache: StagedCache,
  inputs: ConsumeInput[],
): Promise<RunOutcome[]> {
  const missing = new Map<string, SQL>()
  for (const input of inputs) {
    const key = stagedKey(input.projectId, input.telegramUserId)
    if (!cache.customers.has(key))
      missing.set(key, sql`(${input.projectId}::uuid, ${input.telegramUserId}::int8)`)
  }
  if (missing.size > 0) {
    await lockAndStage(
      tx,
      cache,
      sql`(project_id, telegram_user_id) in (values ${sql.join([...missing.values()], sql`, `)})`,
    )
  }
  /** Customers that do not exist: their consumes are NotFound. */
  const absent = new Set([...missing.keys()].filter((key) => !cache.customers.has(key)))
  const outcomes: RunOutcome[] = []
  let segment: ConsumeInput[] = []
  for (const input of inputs) {
    const key = stagedKey(input.projectId, input.telegramUserId)
    let customer = cache.customers.get(key)
    if (!customer && !absent.has(key)) {
      // Forgotten by a sweep that was rolled back with its refused consume: read it again.
      await lockAndStage(
        tx,
        cache,
        sql`project_id = ${input.projectId} and telegram_user_id = ${input.telegramUserId}`,
      )
      customer = cache.customers.get(key)
      if (!customer) absent.add(key)
    }
    const now = input.now ?? new Date()
    const due = customer?.locked.nextExpiryAt
    if (due && due <= now) {
      outcomes.push(...(await decideAndWrite(tx, cache, segment)))
      segment = []
      outcomes.push(await consumeAfterSweep(tx, cache, input, now))
    } else if (input.usage) {
      outcomes.push(...(await decideAndWrite(tx, cache, segment)))
      segment = []
      outcomes.push(await consumeWithUsage(tx, cache, input, now))
    } else segment.push(input)
  }
  outcomes.push(...(await decideAndWrite(tx, cache, segment)))
  return outcomes
}

/**
 * A segment of consumes none of whose customers has anything due to expire. Decided first on
 * the guess that every key is new and written in ONE statement (`writeOptimistic`); if a key
 * was in fact taken, nothing is written, the staged state is put back, and the segment is
 * decided again on what the keys really hold: claim (one statement), write (one statement).
 */
async function decideAndWrite(
  tx: Tx,
  cache: StagedCache,
  inputs: ConsumeInput[],
): Promise<RunOutcome[]> {
  if (inputs.length === 0) return []
  const acts: SegmentAct[] = inputs.map((input) => ({
    input,
    keyId: `${input.projectId}:${input.idempotencyKey}`,
    requestHash: hashRequest('consume', requestOf(input)),
    customer: cache.customers.get(stagedKey(input.projectId, input.telegramUserId)),
  }))
  // The lock comes first: a consume for no customer is NotFound and asks for no key.
  const asking = new Map<
    string,
    { projectId: string; key: string; operation: string; requestHash: string }
  >()
  for (const a of acts) {
    if (a.customer && !asking.has(a.keyId)) {
      asking.set(a.keyId, {
        projectId: a.input.projectId,
        key: a.input.idempotencyKey,
        operation: 'consume',
        requestHash: a.requestHash,
      })
    }
  }
  if (asking.size === 0) return decide(cache, acts, new Set(), new Map()).settle()
  const snapshot = snapshotStaged(acts.flatMap((a) => (a.customer ? [a.customer] : [])))
  const guess = decide(cache, acts, new Set(asking.keys()), new Map())
  const optimistic = await writeOptimistic(tx, cache, {
    entries: guess.entries,
    won: guess.won,
    asked: [...asking.values()],
  })
  if (optimistic.ok) return guess.settle()
  restoreStaged(snapshot)
  await releaseClaims(tx, optimistic.claimed)
  const claims = await claimKeys(tx, [...asking.values()], asking.size)
  const exact = decide(cache, acts, claims.claimed, claims.stored)
  exact.entries.forEach((entry, i) => {
    entry.id = claims.ids[i]!
  })
  await writeStaged(tx, cache, {
    entries: exact.entries,
    won: exact.won.map((w, i) => ({
      ...w,
      response: { entryId: exact.entries[i]!.id, ...w.response },
    })),
    released: exact.released,
  })
  return exact.settle()
}

interface SegmentAct {
  input: ConsumeInput
  keyId: string
  requestHash: string
  customer: StagedCustomer | undefined
}

/**
 * Decides a segment's consumes in arrival order on the staged state, as the act door would one
 * after the other: `open` keys are claimed by this segment and not yet won; `stored` ones were
 * taken before it. Entries get their ids when written; `settle` gives the outcomes after that.
 */
function decide(
  cache: StagedCache,
  acts: SegmentAct[],
  claimed: Set<string>,
  stored: Map<string, StoredKey>,
) {
  const open = new Set(claimed)
  const wonBy = new Map<
    string,
    { requestHash: string; entry: StagedEntry; response: Omit<ConsumeResult, 'entryId'> }
  >()
  const entries: StagedEntry[] = []
  const won: Array<{
    projectId: string
    key: string
    requestHash: string
    response: Omit<ConsumeResult, 'entryId'>
  }> = []
  type Decided =
    | { ok: true; entry: StagedEntry; response: Omit<ConsumeResult, 'entryId'> }
    | { ok: true; value: unknown }
    | { ok: false; error: unknown }
  const decided = acts.map(({ input, keyId, requestHash, customer }): Decided => {
    try {
      if (!customer) throw new NotFound('Customer', input.telegramUserId)
      const earlier = wonBy.get(keyId)
      if (earlier) {
        if (earlier.requestHash !== requestHash)
          throw new IdempotencyConflict(input.idempotencyKey, 'consume')
        return { ok: true, entry: earlier.entry, response: earlier.response }
      }
      if (!open.has(keyId)) {
        const found = stored.get(keyId)
        if (!found || found.requestHash !== requestHash)
          throw new IdempotencyConflict(input.idempotencyKey, found?.operation ?? 'consume')
        return { ok: true, value: found.response }
      }
      const c = customer.locked
      if (c.blockedAt) throw new CustomerBlocked(input.telegramUserId)
      // The cached balance covers every live lot: refuse without reading them.
      if (c.available < input.amount) throw new InsufficientCredits(c.available, input.amount)
      const allocations = allocate(liveStagedLots(customer, input.now ?? new Date()), input.amount)
      const taken = total(allocations)
      if (taken < input.amount) throw new InsufficientCredits(taken, input.amount)
      const entry = stageEntry(cache, customer, {
        id: 0,
        amount: input.amount,
        lots: debit(allocations),
        reason: input.reason,
        actor: input.actor,
        idempotencyKey: input.idempotencyKey,
        metadata: input.metadata ?? null,
      })
      entries.push(entry)
      const response = {
        consumed: input.amount,
        available: entry.availableAfter,
        held: entry.heldAfter,
        debt: entry.debtAfter,
      }
      open.delete(keyId)
      wonBy.set(keyId, { requestHash, entry, response })
      won.push({ projectId: input.projectId, key: input.idempotencyKey, requestHash, response })
      return { ok: true, entry, response }
    } catch (error) {
      return { ok: false, error }
    }
  })
  /** Keys this segment claimed that no call won: a refused call gives its key back. */
  const released = [...open].map((keyId) => {
    const act = acts.find((a) => a.keyId === keyId)!
    return { projectId: act.input.projectId, key: act.input.idempotencyKey }
  })
  const settle = (): RunOutcome[] =>
    decided.map((d) =>
      !d.ok
        ? d
        : 'entry' in d
          ? { ok: true, value: { entryId: d.entry.id, ...d.response } }
          : { ok: true, value: d.value },
    )
  return { entries, won, released, settle }
}

/**
 * A lot or hold of the customer expired: the expiry entries come first (`sweepExpired`, which
 * writes through SQL, so the customer is read again after it), in a savepoint with the consume.
 */
async function consumeAfterSweep(
  tx: Tx,
  cache: StagedCache,
  input: ConsumeInput,
  now: Date,
): Promise<RunOutcome> {
  const key = stagedKey(input.projectId, input.telegramUserId)
  const swept = cache.customers.get(key)!
  cache.customers.delete(key)
  try {
    const value = await transact(tx as unknown as Db, async (sp) => {
      await sweepExpired(sp, swept.locked, now)
      await lockAndStage(
        sp,
        cache,
        sql`project_id = ${input.projectId} and telegram_user_id = ${input.telegramUserId}`,
      )
      const due = cache.customers.get(key)?.locked.nextExpiryAt
      // Never: the sweep moves the customer's earliest expiry past `now`.
      if (due && due <= now) throw new Error('sweepExpired left an expiry due')
      const [outcome] = await decideAndWrite(sp, cache, [input])
      if (!outcome!.ok) throw outcome!.error
      return outcome!.value
    })
    return { ok: true, value }
  } catch (error) {
    cache.customers.delete(key)
    return { ok: false, error }
  }
}

/**
 * A consume with a usage record (issue 14) goes through the ledger's general door, `appendEntry`,
 * which prices it (the record's cost, else the price book, else the shipped default; the
 * unpriced-model policy) and checks the cost caps under the customer's lock, in a savepoint. The
 * segments before it are written; its customer is read again after it, as after a sweep.
 */
async function consumeWithUsage(
  tx: Tx,
  cache: StagedCache,
  input: ConsumeInput,
  now: Date,
): Promise<RunOutcome> {
  cache.customers.delete(stagedKey(input.projectId, input.telegramUserId))
  try {
    const value = await act(
      tx as unknown as Db,
      {
        projectId: input.projectId,
        key: input.idempotencyKey,
        operation: 'consume',
        request: requestOf(input),
      },
      (sp) => lockCustomer(sp, input.projectId, input.telegramUserId, { allowBlocked: true }),
      async (sp, customer): Promise<ConsumeResult> => {
        if (customer.blockedAt) throw new CustomerBlocked(input.telegramUserId)
        await sweepExpired(sp, customer, now)
        const allocations = await takeFromLots(sp, customer, input.amount, now)
        const after = await appendEntry(sp, customer, {
          kind: 'consume',
          amount: -input.amount,
          lots: debit(allocations),
          reason: input.reason,
          actor: input.actor,
          idempotencyKey: input.idempotencyKey,
          usage: input.usage,
          metadata: input.metadata ?? null,
          now,
        })
        return { entryId: after.entryId, consumed: input.amount, ...balanceOf(after) }
      },
    )
    return { ok: true, value }
  } catch (error) {
    return { ok: false, error }
  } finally {
    await lockAndStage(
      tx,
      cache,
      sql`project_id = ${input.projectId} and telegram_user_id = ${input.telegramUserId}`,
    )
  }
}
