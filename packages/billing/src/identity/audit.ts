import { auditLog, type Executor } from '@e-stars/db'
import { and, desc, eq, like, lt } from 'drizzle-orm'
import { transact } from '../ledger/transaction.ts'

export interface AuditRecord {
  projectId: string
  /** `operator:<email>` for console actions. */
  actor: string
  /** Dotted verb: `credits.grant`, `api_key.create`, `settings.update`, `payment.refund`… */
  action: string
  target?: string | null | undefined
  before?: unknown
  after?: unknown
}

/** Writes one audit row. Call it inside the transaction of the change it records. */
export async function recordAudit(tx: Executor, record: AuditRecord): Promise<void> {
  await tx.insert(auditLog).values({
    projectId: record.projectId,
    actor: record.actor,
    action: record.action,
    target: record.target ?? null,
    before: record.before ?? null,
    after: record.after ?? null,
  })
}

export interface ListAuditInput {
  projectId: string
  /** Only actions starting with this, e.g. `credits.` */
  action?: string | null | undefined
  cursor?: string | null | undefined
  limit?: number | undefined
}

/** Newest first, keyset-paginated by id. */
export async function listAuditLog(db: Executor, input: ListAuditInput) {
  const limit = input.limit ?? 50
  const before = input.cursor ? Number(input.cursor) : null
  const page = await db
    .select({
      id: auditLog.id,
      actor: auditLog.actor,
      action: auditLog.action,
      target: auditLog.target,
      before: auditLog.before,
      after: auditLog.after,
      createdAt: auditLog.createdAt,
    })
    .from(auditLog)
    .where(
      and(
        eq(auditLog.projectId, input.projectId),
        before === null ? undefined : lt(auditLog.id, before),
        input.action
          ? like(auditLog.action, `${input.action.replace(/[%_\\]/g, '\\$&')}%`)
          : undefined,
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(limit + 1)
  const entries = page.slice(0, limit).map((e) => ({
    ...e,
    before: e.before as unknown,
    after: e.after as unknown,
    createdAt: e.createdAt.toISOString(),
  }))
  const nextCursor = page.length > limit ? String(entries[entries.length - 1]!.id) : null
  return { entries, nextCursor }
}

export type AuditPage = Awaited<ReturnType<typeof listAuditLog>>

/**
 * Runs one operator act and its audit row in one transaction: both are written or neither.
 * `after` (and `before`) may be computed from the act's result.
 */
export async function audited<R>(
  db: Executor,
  act: (tx: Executor) => Promise<R>,
  record: Omit<AuditRecord, 'after'> & { after?: (result: NoInfer<R>) => unknown },
): Promise<R> {
  return transact(db, async (tx) => {
    const result = await act(tx)
    await recordAudit(tx, {
      ...record,
      after: record.after ? record.after(result) : result,
    })
    return result
  })
}
