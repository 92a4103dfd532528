import { type Executor, rows, type Tx } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { InvalidInput } from '../errors.ts'

export type EventType =
  | 'balance.low'
  | 'entitlement.granted'
  | 'entitlement.revoked'
  | 'reconciliation.finding'
  | 'cost_cap.reached'
  | 'quota.exhausted'
  | 'free_allowance.exhausted'
  | 'margin.unpriced_model'
  | 'margin.below_threshold'
  | 'margin.customer_unprofitable'

export interface LatchedEvent {
  projectId: string
  customerId: number
  /** What the latch is about, e.g. `low_balance` or `quota:<id>`: one event per crossing of it. */
  condition: string
  /** For windowed conditions, the window: a new window re-arms the latch. */
  windowKey: string
  type: EventType
  payload: Record<string, unknown>
}

/**
 * Writes an outbox event unless its latch is already set for this window — one statement. The
 * project's advisory lock serialises event writers until they commit, so event ids become visible
 * in id order and a poller's cursor never skips an event committed late.
 */
export async function emitLatched(tx: Tx, event: LatchedEvent): Promise<number | null> {
  const [row] = await rows<{ id: string }>(
    tx,
    sql`with serial as materialized (
          select pg_advisory_xact_lock(hashtextextended(${`events:${event.projectId}`}, 0))
        ),
        latch as (
          insert into event_latches (project_id, customer_id, condition, window_key, latched_at)
          select ${event.projectId}, ${event.customerId}::int8, ${event.condition}, ${event.windowKey}, now()
          from serial
          on conflict (project_id, customer_id, condition) do update
            set window_key = excluded.window_key, latched_at = excluded.latched_at
            where event_latches.window_key <> excluded.window_key
          returning 1
        )
        insert into events (project_id, customer_id, type, payload)
        select ${event.projectId}, ${event.customerId}::int8, ${event.type}, ${JSON.stringify(event.payload)}::jsonb
        from latch
        returning id`,
  )
  return row ? Number(row.id) : null
}

/** Appends an outbox event in event-id order (the same lock `emitLatched` takes). */
export async function emitEvent(
  tx: Tx,
  event: {
    projectId: string
    customerId: number | null
    type: string
    payload: Record<string, unknown>
  },
) {
  await rows(
    tx,
    sql`select pg_advisory_xact_lock(hashtextextended(${`events:${event.projectId}`}, 0))`,
  )
  await rows(
    tx,
    sql`insert into events (project_id, customer_id, type, payload)
        values (${event.projectId}, ${event.customerId}, ${event.type}, ${JSON.stringify(event.payload)}::jsonb)`,
  )
}

export const LOW_BALANCE = 'low_balance'

/** Entry kinds that top a balance up; only these re-arm the low-balance latch (held credits coming back do not). */
const TOP_UPS = new Set(['grant', 'adjust', 'repay'])

/**
 * Called by `appendEntry` after a balance change when the project has a threshold: one event when
 * `available` falls below it, and the latch is cleared when a top-up lifts it back to the
 * threshold or above. No statement at all unless the change crosses the threshold.
 */
export async function noteBalanceCrossing(
  tx: Tx,
  customer: { projectId: string; id: number; telegramUserId?: number },
  change: { kind: string; before: number; after: number; threshold: number; entryId: number },
): Promise<void> {
  const { before, after, threshold } = change
  if (threshold <= 0) return
  if (before >= threshold && after < threshold) {
    await emitLatched(tx, {
      projectId: customer.projectId,
      customerId: customer.id,
      condition: LOW_BALANCE,
      windowKey: '',
      type: 'balance.low',
      payload: { available: after, threshold, entryId: change.entryId },
    })
  } else if (before < threshold && after >= threshold && TOP_UPS.has(change.kind)) {
    await tx.execute(
      sql`delete from event_latches where project_id = ${customer.projectId}
          and customer_id = ${customer.id}::int8 and condition = ${LOW_BALANCE}`,
    )
  }
}

export interface PolledEvent {
  /** Pass the last id back as `cursor`. */
  id: string
  type: EventType
  telegramUserId: number | null
  payload: Record<string, unknown>
  createdAt: string
}

/** Events after `cursor` (an event id; omit for the beginning), oldest first. */
export async function pollEvents(
  db: Executor,
  input: { projectId: string; cursor?: string | null | undefined; limit?: number | undefined },
): Promise<{ events: PolledEvent[]; cursor: string | null }> {
  if (input.cursor && !/^\d{1,19}$/.test(input.cursor)) {
    throw new InvalidInput('cursor', 'must be an event id from a previous poll')
  }
  const limit = input.limit ?? 100
  const after = input.cursor ?? '0'
  const list = await rows<{
    id: string
    type: EventType
    telegram_user_id: string | null
    payload: unknown
    created_at: string | Date
  }>(
    db,
    sql`select e.id, e.type, c.telegram_user_id, e.payload, e.created_at
        from events e left join customers c on c.project_id = e.project_id and c.id = e.customer_id
        where e.project_id = ${input.projectId} and e.id > ${after}::int8
        order by e.id limit ${limit}`,
  )
  const events = list.map((e) => ({
    id: String(e.id),
    type: e.type,
    telegramUserId: e.telegram_user_id === null ? null : Number(e.telegram_user_id),
    payload: (typeof e.payload === 'string' ? JSON.parse(e.payload) : e.payload) as Record<
      string,
      unknown
    >,
    createdAt: new Date(e.created_at).toISOString(),
  }))
  return { events, cursor: events.length ? events[events.length - 1]!.id : (input.cursor ?? null) }
}
