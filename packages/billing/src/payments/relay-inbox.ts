import { type Db, type Executor, relayUpdates, rows } from '@e-stars/db'
import { and, eq, sql } from 'drizzle-orm'

/**
 * The webhook relay's inbox. An update is committed here before the relay answers Telegram 200,
 * then forwarded to the bot's own webhook by a job, with retries. A crash between the two loses
 * nothing: the row waits until a forwarder claims it again.
 */
export async function storeRelayUpdate(
  db: Executor,
  input: {
    projectId: string
    update: { update_id: number } & Record<string, unknown>
    /** False when there is nothing to forward to, or the relay already handled it. */
    forward: boolean
    now?: Date | undefined
  },
): Promise<{ stored: boolean }> {
  const now = input.now ?? new Date()
  const inserted = await db
    .insert(relayUpdates)
    .values({
      projectId: input.projectId,
      updateId: input.update.update_id,
      payload: input.update,
      receivedAt: now,
      nextAttemptAt: now,
      forwardedAt: input.forward ? null : now,
    })
    .onConflictDoNothing()
    .returning({ updateId: relayUpdates.updateId })
  return { stored: inserted.length > 0 }
}

export interface ClaimedUpdate {
  projectId: string
  updateId: number
  payload: Record<string, unknown>
  attempts: number
  receivedAt: Date
  relayTarget: string | null
  webhookSecret: string | null
}

/**
 * Claims due updates for forwarding: each is leased for `leaseMs` (another replica skips it;
 * after a crash it becomes due again). Per project, an update waiting for a retry holds back the
 * later ones, so the bot sees them in order, as Telegram would deliver them.
 */
export async function claimRelayUpdates(
  db: Db,
  input: { limit?: number; leaseMs?: number; now?: Date } = {},
): Promise<ClaimedUpdate[]> {
  const now = (input.now ?? new Date()).toISOString()
  const leaseUntil = new Date(Date.parse(now) + (input.leaseMs ?? 30_000)).toISOString()
  const claimed = await rows<{
    project_id: string
    update_id: string
    payload: Record<string, unknown> | string
    attempts: number
    received_at: string | Date
    relay_target: string | null
    webhook_secret: string | null
  }>(
    db,
    sql`with due as (
          select r.project_id, r.update_id from relay_updates r
          where r.forwarded_at is null and r.next_attempt_at <= ${now}::timestamptz
            and not exists (select 1 from relay_updates e where e.project_id = r.project_id
              and e.forwarded_at is null and e.update_id < r.update_id
              and e.next_attempt_at > ${now}::timestamptz and e.next_attempt_at <> 'infinity')
          order by r.project_id, r.update_id
          limit ${input.limit ?? 50}
          for update skip locked
        ), claimed as (
          update relay_updates r set next_attempt_at = ${leaseUntil}::timestamptz, attempts = r.attempts + 1
          from due where r.project_id = due.project_id and r.update_id = due.update_id
          returning r.project_id, r.update_id, r.payload, r.attempts, r.received_at
        )
        select c.*, p.relay_target, p.webhook_secret from claimed c join projects p on p.id = c.project_id
        order by c.project_id, c.update_id`,
  )
  return claimed.map((r) => ({
    projectId: r.project_id,
    updateId: Number(r.update_id),
    payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload,
    attempts: r.attempts,
    receivedAt: new Date(r.received_at),
    relayTarget: r.relay_target,
    webhookSecret: r.webhook_secret,
  }))
}

export async function markRelayForwarded(
  db: Executor,
  input: { projectId: string; updateId: number; now?: Date },
) {
  await db
    .update(relayUpdates)
    .set({ forwardedAt: input.now ?? new Date(), lastError: null })
    .where(
      and(eq(relayUpdates.projectId, input.projectId), eq(relayUpdates.updateId, input.updateId)),
    )
}

/** A failed forward: retry at `nextAttemptAt`, or (null) give up and keep the row for inspection. */
export async function markRelayFailed(
  db: Executor,
  input: { projectId: string; updateId: number; error: string; nextAttemptAt: Date | null },
) {
  await db
    .update(relayUpdates)
    .set({
      lastError: input.error.slice(0, 500),
      nextAttemptAt: input.nextAttemptAt ?? sql`'infinity'::timestamptz`,
    })
    .where(
      and(eq(relayUpdates.projectId, input.projectId), eq(relayUpdates.updateId, input.updateId)),
    )
}

/** For the console and tests: an update's forwarding state. */
export async function getRelayUpdate(db: Executor, projectId: string, updateId: number) {
  const [row] = await db
    .select()
    .from(relayUpdates)
    .where(and(eq(relayUpdates.projectId, projectId), eq(relayUpdates.updateId, updateId)))
  return row ?? null
}

/** Hands a claimed update back unforwarded (its project's earlier update is waiting for a retry). */
export async function releaseRelayClaim(
  db: Executor,
  input: { projectId: string; updateId: number; now?: Date },
) {
  await db
    .update(relayUpdates)
    .set({ nextAttemptAt: input.now ?? new Date(), attempts: sql`${relayUpdates.attempts} - 1` })
    .where(
      and(eq(relayUpdates.projectId, input.projectId), eq(relayUpdates.updateId, input.updateId)),
    )
}
