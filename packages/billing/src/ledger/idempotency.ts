import { createHash } from 'node:crypto'
import { type Db, idempotencyKeys, rows, type Tx } from '@e-stars/db'
import { and, eq, type SQL, sql } from 'drizzle-orm'
import { IdempotencyConflict } from '../errors.ts'
import { transact } from './transaction.ts'

export interface IdempotencyScope {
  projectId: string
  key: string
  operation: string
  /** The request as the caller sent it, without the clock: its fingerprint decides replay or conflict. */
  request: unknown
}

/**
 * The one door for every mutating act, in the order every act locks (one global order, so two
 * acts never wait on each other in a circle):
 *
 *   1. the act's customer row (`lock`: found by telegram user, by hold, by reservation…);
 *   2. the idempotency key: new → the act runs and its result is stored with the key;
 *      claimed with the same request → the stored result; with another request → IdempotencyConflict;
 *   3. the act's own rows (lots, holds, payments, orders), inside `apply`.
 *
 * One transaction, run again whole on a deadlock or serialization failure. A failed act rolls
 * back its claim, so the key can be used again. The one-statement consume is the same door in
 * set-based form (`claimKeySql`), and hands every case it cannot decide to this one.
 */
export function act<L, R>(
  db: Db,
  scope: IdempotencyScope,
  lock: (tx: Tx) => Promise<L>,
  apply: (tx: Tx, locked: L) => Promise<R>,
): Promise<R> {
  const requestHash = hashRequest(scope.operation, scope.request)
  return transact(db, async (tx) => {
    const locked = await lock(tx)
    const [claimed] = await rows<{ key: string }>(tx, claimKeySql(scope, requestHash))
    if (!claimed) return replay<R>(tx, scope, requestHash)
    const result = await apply(tx, locked)
    await tx
      .update(idempotencyKeys)
      .set({ response: result })
      .where(
        and(eq(idempotencyKeys.projectId, scope.projectId), eq(idempotencyKeys.key, scope.key)),
      )
    return result
  })
}

/**
 * Claims the key, or nothing when it is taken (a concurrent claim waits on the unique index
 * until the first commits). `response` stores the result in the same statement.
 */
export function claimKeySql(
  scope: Omit<IdempotencyScope, 'request'>,
  requestHash: string,
  response: SQL = sql`null`,
  from: SQL = sql``,
): SQL {
  return sql`insert into idempotency_keys (project_id, key, operation, request_hash, response)
    select ${scope.projectId}, ${scope.key}, ${scope.operation}, ${requestHash}, ${response} ${from}
    on conflict do nothing
    returning key, response`
}

/** The stored result for a key already claimed, or IdempotencyConflict when the request differs. */
export async function replay<R>(
  tx: Tx,
  scope: Omit<IdempotencyScope, 'request'>,
  requestHash: string,
): Promise<R> {
  const [stored] = await tx
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.projectId, scope.projectId), eq(idempotencyKeys.key, scope.key)))
  if (!stored || stored.requestHash !== requestHash) {
    throw new IdempotencyConflict(scope.key, stored?.operation ?? scope.operation)
  }
  return stored.response as R
}

/** The fingerprint of a request: the operation and the request with keys sorted and the clock left out. */
export function hashRequest(operation: string, request: unknown): string {
  return createHash('sha256')
    .update(operation)
    .update('\0')
    .update(canonicalJson(request))
    .digest('base64url')
}

/** The parts of an act's input that its fingerprint covers: all but the key itself and the clock. */
export function requestOf<I extends { idempotencyKey: string; now?: Date | undefined }>(
  input: I,
): Omit<I, 'idempotencyKey' | 'now'> {
  const { idempotencyKey: _key, now: _now, ...request } = input
  return request
}

/** JSON with object keys sorted, so equal requests hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null'
  if (value instanceof Date) return JSON.stringify(value.toISOString())
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}
