import type { Db, Tx } from '@e-stars/db'
import { ConcurrentUpdate } from '../errors.ts'

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

/** One transaction for one act, retried whole on a deadlock or serialization failure. */
export function transact<R>(db: Db, work: (tx: Tx) => Promise<R>): Promise<R> {
  return retryingConflicts(() => db.transaction(work))
}
