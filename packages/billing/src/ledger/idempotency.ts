import { createHash } from 'node:crypto'
import { idempotencyKeys, type Tx } from '@e-stars/db'
import { and, eq } from 'drizzle-orm'
import { IdempotencyConflict } from '../errors.ts'

export interface IdempotencyScope {
  projectId: string
  key: string
  operation: string
  request: unknown
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

/**
 * Runs `apply` at most once per (project, key). The claim row is inserted first: a concurrent
 * call with the same key waits on its unique index until the first commits, then replays.
 * A call that fails rolls back its claim, so the key can be used again.
 */
export async function idempotent<R>(
  tx: Tx,
  scope: IdempotencyScope,
  apply: () => Promise<R>,
): Promise<R> {
  const requestHash = hashRequest(scope.operation, scope.request)
  const claimed = await tx
    .insert(idempotencyKeys)
    .values({ projectId: scope.projectId, key: scope.key, operation: scope.operation, requestHash })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key })
  const where = and(
    eq(idempotencyKeys.projectId, scope.projectId),
    eq(idempotencyKeys.key, scope.key),
  )
  if (claimed.length === 0) return replay<R>(tx, scope, requestHash)
  const result = await apply()
  await tx.update(idempotencyKeys).set({ response: result }).where(where)
  return result
}

export function hashRequest(operation: string, request: unknown): string {
  return createHash('sha256')
    .update(operation)
    .update('\0')
    .update(canonicalJson(request))
    .digest('base64url')
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
