import { type Executor, projects, rows } from '@e-stars/db'
import { eq, sql } from 'drizzle-orm'
import { InvalidInput, NotFound } from '../errors.ts'
import { transact } from '../ledger/transaction.ts'
import { recordAudit } from './audit.ts'
import { checkProjectRules } from './project-rules.ts'
import { createApiKey, revokeApiKey } from './projects.ts'

/** Creates an API key from the console; the audit row names it but never holds the key. */
export async function createProjectApiKey(
  db: Executor,
  input: { projectId: string; name: string; actor: string },
) {
  return transact(db, async (tx) => {
    const key = await createApiKey(tx, { projectId: input.projectId, name: input.name })
    await recordAudit(tx, {
      projectId: input.projectId,
      actor: input.actor,
      action: 'api_key.create',
      target: `api_key:${key.id}`,
      after: { id: key.id, name: key.name, prefix: key.prefix },
    })
    return key
  })
}

export async function revokeProjectApiKey(
  db: Executor,
  input: { projectId: string; keyId: string; actor: string },
) {
  return transact(db, async (tx) => {
    const result = await revokeApiKey(tx, { projectId: input.projectId, keyId: input.keyId })
    await recordAudit(tx, {
      projectId: input.projectId,
      actor: input.actor,
      action: 'api_key.revoke',
      target: `api_key:${input.keyId}`,
      before: { revoked: false },
      after: { revoked: true },
    })
    return result
  })
}

type RefundPolicy = 'debt' | 'absorb'
type OveragePolicy = 'cap' | 'debt' | 'absorb'

export interface ProjectSettings {
  id: string
  name: string
  timeZone: string
  refundPolicy: RefundPolicy
  /** What an answer that costs more than the customer can pay does (usage/overage.ts). */
  overagePolicy: OveragePolicy
  lowBalanceThreshold: number
  /** The token itself is write-only: only whether one is set. */
  botTokenSet: boolean
  relayTarget: string | null
  createdAt: string
}

export async function getProjectSettings(
  db: Executor,
  projectId: string,
): Promise<ProjectSettings> {
  const [project] = await db
    .select({
      id: projects.id,
      name: projects.name,
      timeZone: projects.timeZone,
      refundPolicy: projects.refundPolicy,
      overagePolicy: projects.overagePolicy,
      lowBalanceThreshold: projects.lowBalanceThreshold,
      botTokenEncrypted: projects.botTokenEncrypted,
      relayTarget: projects.relayTarget,
      createdAt: projects.createdAt,
    })
    .from(projects)
    .where(eq(projects.id, projectId))
  if (!project) throw new NotFound('Project', projectId)
  const { botTokenEncrypted, ...rest } = project
  return {
    ...rest,
    refundPolicy: rest.refundPolicy as RefundPolicy,
    overagePolicy: rest.overagePolicy as OveragePolicy,
    botTokenSet: botTokenEncrypted !== null,
    createdAt: rest.createdAt.toISOString(),
  }
}

export interface UpdateProjectSettingsInput {
  projectId: string
  actor: string
  name?: string | undefined
  timeZone?: string | undefined
  refundPolicy?: RefundPolicy | undefined
  overagePolicy?: OveragePolicy | undefined
  lowBalanceThreshold?: number | undefined
}

/** Name, time zone, refund policy and low-balance threshold; audited with before and after. */
export async function updateProjectSettings(
  db: Executor,
  input: UpdateProjectSettingsInput,
): Promise<ProjectSettings> {
  checkProjectRules(input)
  if (input.overagePolicy !== undefined && !['cap', 'debt', 'absorb'].includes(input.overagePolicy))
    throw new InvalidInput('overagePolicy', 'must be cap, debt or absorb')
  return transact(db, async (tx) => {
    const before = await getProjectSettings(tx, input.projectId)
    const patch = {
      ...(input.name !== undefined ? { name: input.name.trim() } : {}),
      ...(input.timeZone !== undefined ? { timeZone: input.timeZone } : {}),
      ...(input.refundPolicy !== undefined ? { refundPolicy: input.refundPolicy } : {}),
      ...(input.overagePolicy !== undefined ? { overagePolicy: input.overagePolicy } : {}),
      ...(input.lowBalanceThreshold !== undefined
        ? { lowBalanceThreshold: input.lowBalanceThreshold }
        : {}),
    }
    if (Object.keys(patch).length === 0) return before
    await tx.update(projects).set(patch).where(eq(projects.id, input.projectId))
    const after = await getProjectSettings(tx, input.projectId)
    const changed = Object.keys(patch) as Array<keyof typeof patch>
    await recordAudit(tx, {
      projectId: input.projectId,
      actor: input.actor,
      action: 'settings.update',
      target: `project:${input.projectId}`,
      before: Object.fromEntries(changed.map((k) => [k, before[k]])),
      after: Object.fromEntries(changed.map((k) => [k, after[k]])),
    })
    return after
  })
}

/** The webhook relay's backlog for the settings page: what waits, what failed last, what went through. */
export async function getRelayStatus(db: Executor, projectId: string) {
  const [row] = await rows<{
    pending: string
    failing: string
    last_forwarded_at: string | Date | null
    last_error: string | null
    last_received_at: string | Date | null
  }>(
    db,
    sql`select
          count(*) filter (where forwarded_at is null) as pending,
          count(*) filter (where forwarded_at is null and attempts > 0) as failing,
          max(forwarded_at) as last_forwarded_at,
          max(received_at) as last_received_at,
          (select last_error from relay_updates where project_id = ${projectId}
             and forwarded_at is null and last_error is not null
           order by received_at desc limit 1) as last_error
        from relay_updates where project_id = ${projectId}`,
  )
  const iso = (v: string | Date | null | undefined) => (v ? new Date(v).toISOString() : null)
  return {
    pending: Number(row?.pending ?? 0),
    failing: Number(row?.failing ?? 0),
    lastReceivedAt: iso(row?.last_received_at),
    lastForwardedAt: iso(row?.last_forwarded_at),
    lastError: row?.last_error ?? null,
  }
}
