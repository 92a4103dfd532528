import type { Db, Tx } from '@e-stars/db'
import { type SQL, sql } from 'drizzle-orm'
import { BillingError } from '../errors.ts'
import { forgetStaged, lockAndStage, type StagedCache } from '../ledger/staged.ts'
import {
  type BatchState,
  isRetryable,
  openBatch,
  retryingConflicts,
  transact,
} from '../ledger/transaction.ts'

/**
 * Group commit: the metering acts (consume, reserve, settle, release, and their feature-level
 * forms) that arrive together are applied in ONE transaction, so one commit — the database's
 * real cost — serves many calls, and a hot customer's calls take its row lock once.
 *
 * - Acts are queued on a lane chosen by their customer, so all calls for one customer meet in
 *   one batch and two lanes' batches (mostly) never wait on each other's customers.
 * - An idle lane waits one turn of the event loop (`setImmediate`, well under 1 ms) to collect
 *   the calls that arrived together; while a lane's batch is committing, new calls queue and go
 *   in the next batch (up to `maxBatch`). A lone call is a batch of one: the same code path.
 * - The batch locks every customer it names in id order, in one statement, and loads those rows
 *   and their lots with credits left (one more statement): the batch's staged state
 *   (ledger/staged.ts). Then each act runs in arrival order.
 * - Consumes are staged acts: a run of consecutive consumes is decided together in memory on
 *   the staged state (blocked, insufficient credits, burn order, revenue, balance after, chain
 *   hash) and written in ONE statement, whatever its length: the keys with their responses,
 *   the entries, and each changed lot and customer row once (three more if a key turns out to
 *   be taken: a replay or a conflict). A consume due a sweep of expired lots, or carrying a
 *   usage record, runs alone in a savepoint between the run's segments. A refusal is decided
 *   before anything is written, so it needs no savepoint. A batch of N consumes, hot customer
 *   or spread, is four round trips (begin, lock + lots, the write, commit): one lock and one
 *   row write per customer.
 * - Any other act runs through its usual function, whose `transact` is a SAVEPOINT inside the
 *   batch (see `transact`): a refusal rolls back that act alone and goes to its own caller, the
 *   others stand. Before it runs, the staged customers are forgotten (their rows were written at
 *   the end of their run; it may read or change anything); the next consume stages them again.
 * - Idempotency, events, quotas and entitlements keep their rules: a key replayed inside one
 *   batch sees the earlier act's claim exactly as if it had been sent after it.
 * - A deadlock or serialization failure runs the whole batch again. A staged act that fails for
 *   an unexpected reason (a database error aborts the transaction) makes the batch run again
 *   with every act in its own savepoint, so only that act gets the error. Callers hear back only
 *   after the commit, so nothing is acknowledged that could still be lost.
 */

/** The customer an act touches: named by telegram user, by credit hold, or unknown until it runs. */
export type ActCustomer =
  | { projectId: string; telegramUserId: number }
  | { projectId: string; holdId: string }
  | { projectId: string; laneKey: string }

export interface GroupCommitOptions {
  /** Batches in flight at once, one per lane; each holds one pooled connection while it runs. */
  lanes: number
  /** Acts per batch at most. */
  maxBatch: number
}

/**
 * Two lanes: a batch costs about four round trips whatever its size, so fewer, fuller batches
 * beat more, smaller ones; two let one batch collect calls while the other commits. Measured on
 * the 2-core machine, 64 callers consuming over 10k customers straight against the engine:
 * 1 lane ≈ 2 lanes > 3 > 4 (about half of 2) > 8 > 16.
 */
export const DEFAULT_GROUP_COMMIT: GroupCommitOptions = { lanes: 2, maxBatch: 1000 }

/** An act's own outcome: its result or its error. */
export type RunOutcome = { ok: true; value: unknown } | { ok: false; error: unknown }

/**
 * A staged act (a consume): the batch hands each run of consecutive staged acts with the same
 * `runMany` to it at once, on its staged customers (ledger/staged.ts), without savepoints.
 */
export interface StagedAct<I> {
  input: I
  runMany: (tx: Tx, cache: StagedCache, inputs: I[]) => Promise<RunOutcome[]>
}

interface Pending {
  customer: ActCustomer
  staged?: StagedAct<unknown> | undefined
  run?: ((tx: Db) => Promise<unknown>) | undefined
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

interface Lane {
  queue: Pending[]
  busy: boolean
}

interface Committer {
  options: GroupCommitOptions
  lanes: Lane[]
  batches: number
  acts: number
}

const committers = new WeakMap<Db, Committer>()

function committerOf(db: Db): Committer {
  let committer = committers.get(db)
  if (!committer) {
    committer = makeCommitter(DEFAULT_GROUP_COMMIT)
    committers.set(db, committer)
  }
  return committer
}

function makeCommitter(options: GroupCommitOptions): Committer {
  const lanes = Array.from({ length: options.lanes }, () => ({ queue: [], busy: false }))
  return { options, lanes, batches: 0, acts: 0 }
}

/** Sets the lane count and batch size for one database handle (before its first act). */
export function configureGroupCommit(db: Db, options: Partial<GroupCommitOptions>): void {
  const merged = { ...DEFAULT_GROUP_COMMIT, ...options }
  if (!Number.isInteger(merged.lanes) || merged.lanes < 1) throw new RangeError('lanes ≥ 1')
  if (!Number.isInteger(merged.maxBatch) || merged.maxBatch < 1)
    throw new RangeError('maxBatch ≥ 1')
  committers.set(db, makeCommitter(merged))
}

/** Batches committed and acts applied so far on this handle (what coalescing achieved). */
export function groupCommitStats(db: Db): { batches: number; acts: number } {
  const { batches, acts } = committerOf(db)
  return { batches, acts }
}

/**
 * Runs `run` as one act of the next batch on its customer's lane and settles with its own
 * result or error, after the batch has committed.
 */
export function grouped<R>(db: Db, customer: ActCustomer, run: (tx: Db) => Promise<R>): Promise<R> {
  return enqueue(db, customer, { run }) as Promise<R>
}

/** The same for a staged act: it settles with its own outcome of its run, after the commit. */
export function groupedStaged<I>(
  db: Db,
  customer: ActCustomer,
  staged: StagedAct<I>,
): Promise<unknown> {
  return enqueue(db, customer, { staged: staged as StagedAct<unknown> })
}

function enqueue(
  db: Db,
  customer: ActCustomer,
  act: Pick<Pending, 'run' | 'staged'>,
): Promise<unknown> {
  const committer = committerOf(db)
  const lane = committer.lanes[laneOf(customer, committer.lanes.length)]!
  return new Promise<unknown>((resolve, reject) => {
    lane.queue.push({ customer, ...act, resolve, reject })
    if (!lane.busy) {
      lane.busy = true
      setImmediate(() => void drain(db, committer, lane))
    }
  })
}

async function drain(db: Db, committer: Committer, lane: Lane): Promise<void> {
  while (lane.queue.length > 0) {
    const batch = lane.queue.splice(0, committer.options.maxBatch)
    committer.batches++
    committer.acts += batch.length
    await commitBatch(db, batch)
  }
  lane.busy = false
}

type Outcome = RunOutcome

/** Thrown out of a batch's transaction when a staged act failed unexpectedly: run it again, isolated. */
class StagedActFailed extends Error {}

async function commitBatch(db: Db, batch: Pending[]): Promise<void> {
  let outcomes: Outcome[] | undefined
  // Staged acts run without savepoints; one that fails for an unexpected reason (a database
  // error leaves the transaction aborted) makes the batch run again with every act isolated in
  // its own savepoint, so the others still commit and that one alone gets its error.
  for (const isolate of [false, true]) {
    try {
      outcomes = await retryingConflicts(() => db.transaction((tx) => runBatch(tx, batch, isolate)))
      break
    } catch (error) {
      if (error instanceof StagedActFailed && !isolate) continue
      for (const act of batch) act.reject(error)
      return
    }
  }
  batch.forEach((act, i) => {
    const outcome = outcomes![i]!
    if (outcome.ok) act.resolve(outcome.value)
    else act.reject(outcome.error)
  })
}

async function runBatch(tx: Tx, batch: Pending[], isolate: boolean): Promise<Outcome[]> {
  const state = openBatch(tx)
  await lockCustomers(tx, batch, state.staged)
  const done: Outcome[] = []
  let unexpected = false
  for (let i = 0; i < batch.length; ) {
    const staged = batch[i]!.staged
    if (staged) {
      // The run of consecutive staged acts of one kind: decided and written together.
      let end = i + 1
      while (end < batch.length && batch[end]!.staged?.runMany === staged.runMany) end++
      const inputs = batch.slice(i, end).map((act) => act.staged!.input)
      i = end
      const outcomes = isolate
        ? await runIsolated(tx, state, staged.runMany, inputs)
        : await staged.runMany(tx, state.staged, inputs).catch((error: unknown) => {
            // Deadlocks run the batch again; anything else runs it again with acts isolated.
            throw isRetryable(error) ? error : new StagedActFailed()
          })
      for (const outcome of outcomes) {
        if (!outcome.ok && !(outcome.error instanceof BillingError)) unexpected = true
        done.push(outcome)
      }
    } else {
      // Another act may read or change anything: the staged customers are forgotten (their
      // rows are written at the end of every run) and read again by the next consume.
      forgetStaged(state.staged)
      try {
        done.push({ ok: true, value: await batch[i]!.run!(tx as unknown as Db) })
      } catch (error) {
        done.push({ ok: false, error })
        if (!(error instanceof BillingError)) unexpected = true
      }
      i++
    }
    if (state.conflict) throw state.conflict
  }
  // A database error outside any savepoint would leave the transaction aborted, and COMMIT
  // would then quietly roll back acts already counted as done: prove it is still alive.
  if (unexpected) await tx.execute(sql`select 1`)
  return done
}

/** Staged acts one by one, each in its own savepoint: after one of them failed unexpectedly. */
async function runIsolated(
  tx: Tx,
  state: BatchState,
  runMany: StagedAct<unknown>['runMany'],
  inputs: unknown[],
): Promise<Outcome[]> {
  const outcomes: Outcome[] = []
  for (const input of inputs) {
    try {
      const value = await transact(tx as unknown as Db, async (savepoint) => {
        const [outcome] = await runMany(savepoint, state.staged, [input])
        if (!outcome!.ok) throw outcome!.error
        return outcome!.value
      })
      outcomes.push({ ok: true, value })
    } catch (error) {
      // The savepoint rolled back whatever the act staged: read the customers again.
      forgetStaged(state.staged)
      outcomes.push({ ok: false, error })
    }
  }
  return outcomes
}

/**
 * Locks every customer the batch names, in id order, in one statement (one global lock order),
 * and stages them with their lots for the batch's consumes.
 */
async function lockCustomers(tx: Tx, batch: Pending[], cache: StagedCache): Promise<void> {
  const byUser = new Map<string, SQL>()
  const byHold = new Map<string, SQL>()
  for (const { customer } of batch) {
    if ('telegramUserId' in customer) {
      const key = `${customer.projectId}:${customer.telegramUserId}`
      byUser.set(key, sql`(${customer.projectId}::uuid, ${customer.telegramUserId}::int8)`)
    } else if ('holdId' in customer && isUuid(customer.holdId)) {
      const key = `${customer.projectId}:${customer.holdId}`
      byHold.set(key, sql`(${customer.projectId}::uuid, ${customer.holdId}::uuid)`)
    }
  }
  const named: SQL[] = []
  if (byUser.size > 0) {
    named.push(
      sql`(project_id, telegram_user_id) in (values ${sql.join([...byUser.values()], sql`, `)})`,
    )
  }
  if (byHold.size > 0) {
    named.push(
      sql`(project_id, id) in (select project_id, customer_id from holds
            where (project_id, id) in (values ${sql.join([...byHold.values()], sql`, `)}))`,
    )
  }
  if (named.length === 0) return
  await lockAndStage(tx, cache, sql.join(named, sql` or `))
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A malformed hold id is the act's own NotFound to report, never the batch's cast error. */
function isUuid(value: string): boolean {
  return UUID.test(value)
}

/** The lane of a customer: the same customer, the same lane, so its calls coalesce. */
function laneOf(customer: ActCustomer, lanes: number): number {
  if (lanes === 1) return 0
  const key =
    'telegramUserId' in customer
      ? `${customer.projectId}:u:${customer.telegramUserId}`
      : 'holdId' in customer
        ? `${customer.projectId}:h:${customer.holdId}`
        : `${customer.projectId}:k:${customer.laneKey}`
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % lanes
}
