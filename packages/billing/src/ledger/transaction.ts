import type { Db, Tx } from '@e-stars/db'
import { ConcurrentUpdate } from '../errors.ts'
import { newStagedCache, type StagedCache } from './staged.ts'

/** deadlock_detected and serialization_failure: the database rolled the work back, so running it again is safe. */
const RETRYABLE = new Set(['40P01', '40001'])
export const MAX_ATTEMPTS = 6

/** The SQLSTATE of a database error, through the wrappers drivers and Drizzle put around it. */
export function sqlState(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * Runs `work` again when the database rolled it back for a deadlock or a serialization failure
 * (bounded, with jitter so the colliders do not meet again). After the last attempt the caller
 * gets ConcurrentUpdate, a typed refusal, never the raw database error.
 */
export async function retryingConflicts<R>(work: () => Promise<R>): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      if (!RETRYABLE.has(sqlState(error) ?? '')) throw error
      if (attempt >= MAX_ATTEMPTS) throw new ConcurrentUpdate(attempt)
      const backoff = 2 ** attempt * (1 + Math.random())
      await new Promise((resolve) => setTimeout(resolve, backoff))
    }
  }
}

/**
 * What a group-commit batch's transaction shares with the acts inside it: the first deadlock or
 * serialization failure any act met (an act may catch and swallow it, the batch must not commit),
 * and the customers it holds locked with their staged state (staged.ts).
 */
export interface BatchState {
  conflict?: unknown
  staged: StagedCache
}

const batches = new WeakMap<object, BatchState>()

/** Marks `tx` as a group-commit batch's transaction: a `transact` on it becomes a savepoint. */
export function openBatch(tx: Tx): BatchState {
  const state: BatchState = { staged: newStagedCache() }
  batches.set(tx, state)
  return state
}

/**
 * One transaction for one act, retried whole on a deadlock or serialization failure.
 *
 * Inside a group-commit batch (`db` is the batch's transaction) the act runs in a SAVEPOINT
 * instead: a refusal rolls back only that act, and a conflict is not retried here — it is noted
 * and rethrown so the batch runs again whole (the locks the batch holds would meet it again).
 */
export function transact<R>(db: Db, work: (tx: Tx) => Promise<R>): Promise<R> {
  const batch = batches.get(db)
  if (!batch) return retryingConflicts(() => db.transaction(work))
  return db
    .transaction((savepoint) => {
      batches.set(savepoint, batch)
      return work(savepoint)
    })
    .catch((error: unknown) => {
      if (RETRYABLE.has(sqlState(error) ?? '')) batch.conflict ??= error
      throw error
    })
}

/** Whether a database error is one the whole transaction may run again after. */
export function isRetryable(error: unknown): boolean {
  return RETRYABLE.has(sqlState(error) ?? '')
}
