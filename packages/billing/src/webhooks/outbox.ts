import { type Db, type Executor, rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { recordAudit } from '../identity/audit.ts'

/**
 * Seconds to wait after each failed attempt (the Standard Webhooks schedule): 5 s, 5 min, 30 min,
 * 2 h, 5 h, 10 h, 10 h. The eighth failure gives up, about 27.6 hours after the first attempt, so
 * a receiver that is down for a day still gets every event.
 */
export const WEBHOOK_RETRY_DELAYS_SECONDS = [5, 300, 1800, 7200, 18_000, 36_000, 36_000] as const

/** Events copied per endpoint per run: a long backlog drains over a few runs, none starves. */
const EVENTS_PER_RUN = 500

/**
 * Copies new outbox events (the `events` table, written in the same transaction as each change)
 * into each enabled endpoint's deliveries and moves its cursor past them, in one statement per
 * endpoint. The endpoint's row is locked while it is copied, so two replicas never copy the same
 * events twice (and the unique index would refuse it anyway). Returns the deliveries queued.
 */
export async function queueWebhookDeliveries(db: Db, now: Date = new Date()): Promise<number> {
  return db.transaction(async (tx) => {
    const endpoints = await rows<{ project_id: string; id: string; cursor: string }>(
      tx,
      sql`select project_id, id, cursor from webhook_endpoints
          where disabled_at is null for update skip locked`,
    )
    let queued = 0
    for (const endpoint of endpoints) {
      const [result] = await rows<{ queued: string }>(
        tx,
        sql`with scanned as (
              select e.id, e.type from events e
              where e.project_id = ${endpoint.project_id} and e.id > ${endpoint.cursor}::int8
              order by e.id limit ${EVENTS_PER_RUN}
            ), wanted as (
              select s.id from scanned s, webhook_endpoints w
              where w.project_id = ${endpoint.project_id} and w.id = ${endpoint.id}
                and (jsonb_array_length(w.event_types) = 0 or w.event_types ? s.type)
            ), queued as (
              insert into webhook_deliveries (project_id, endpoint_id, event_id, next_attempt_at)
              select ${endpoint.project_id}, ${endpoint.id}, id, ${now.toISOString()}::timestamptz
              from wanted
              on conflict do nothing
              returning 1
            ), moved as (
              update webhook_endpoints set cursor = (select max(id) from scanned)
              where project_id = ${endpoint.project_id} and id = ${endpoint.id}
                and exists (select 1 from scanned)
              returning 1
            )
            select (select count(*) from queued) as queued, (select count(*) from moved) as moved`,
      )
      queued += Number(result?.queued ?? 0)
    }
    return queued
  })
}

export interface ClaimedDelivery {
  projectId: string
  id: number
  endpointId: string
  eventId: number
  /** This attempt's number, from 1. */
  attempt: number
  url: string
  secretEncrypted: string
  event: { type: string; payload: Record<string, unknown>; createdAt: Date }
}

/**
 * Claims, for each enabled endpoint, its next delivery — one per endpoint, never two at once, in
 * event order, across every replica on the database:
 *
 * - the endpoint rows are locked first (`for update skip locked`, one transaction), so two
 *   replicas never decide for the same endpoint at the same time; the choice is made by a second
 *   statement, whose snapshot is taken after the lock, so it sees the previous holder's claim;
 * - an endpoint's candidate is its oldest pending delivery (by event id), and only when it is
 *   due and no other pending delivery of the endpoint is waiting for its time (a lease in
 *   flight, or a backoff): a failing delivery holds the ones behind it, and a "Send again" waits
 *   for the delivery in flight.
 *
 * The claim moves `next_attempt_at` to the lease's end, so a replica that dies mid-send leaves the
 * delivery due again when the lease lapses (at least once: the receiver may see it twice, with the
 * same `webhook-id`). The lease must outlast an attempt (the dispatcher bounds each attempt to
 * half of it).
 */
export async function claimWebhookDeliveries(
  db: Db,
  input: { leaseMs?: number; limit?: number; now?: Date } = {},
): Promise<ClaimedDelivery[]> {
  const now = (input.now ?? new Date()).toISOString()
  const leaseUntil = new Date(Date.parse(now) + (input.leaseMs ?? 60_000)).toISOString()
  const claimed = await db.transaction(async (tx) => {
    // The endpoints with something due, the longest waiting first (none starves behind others).
    const endpoints = await rows<{ project_id: string; id: string }>(
      tx,
      sql`select w.project_id, w.id from webhook_endpoints w
          where w.disabled_at is null
            and exists (select 1 from webhook_deliveries d
              where d.project_id = w.project_id and d.endpoint_id = w.id
                and d.status = 'pending' and d.next_attempt_at <= ${now}::timestamptz)
          order by (select min(d.next_attempt_at) from webhook_deliveries d
              where d.project_id = w.project_id and d.endpoint_id = w.id
                and d.status = 'pending')
          limit ${input.limit ?? 50}
          for update of w skip locked`,
    )
    if (endpoints.length === 0) return []
    const locked = JSON.stringify(endpoints.map((e) => ({ project_id: e.project_id, id: e.id })))
    return rows<{
      project_id: string
      id: string
      endpoint_id: string
      event_id: string
      attempts: number
      url: string
      secret_encrypted: string
      type: string
      payload: Record<string, unknown> | string
      event_at: string | Date
    }>(
      tx,
      sql`with locked as (
            select * from jsonb_to_recordset(${locked}::jsonb) as l(project_id uuid, id uuid)
          ), head as (
            select h.project_id, h.id from locked l
            cross join lateral (
              select d.project_id, d.id, d.next_attempt_at from webhook_deliveries d
              where d.project_id = l.project_id and d.endpoint_id = l.id and d.status = 'pending'
              order by d.event_id
              limit 1
            ) h
            where h.next_attempt_at <= ${now}::timestamptz
              and not exists (
                select 1 from webhook_deliveries o
                where o.project_id = l.project_id and o.endpoint_id = l.id
                  and o.status = 'pending' and o.id <> h.id
                  and o.next_attempt_at > ${now}::timestamptz
              )
          ), claimed as (
            update webhook_deliveries d
            set next_attempt_at = ${leaseUntil}::timestamptz, attempts = d.attempts + 1
            from head
            where d.project_id = head.project_id and d.id = head.id
              and d.status = 'pending' and d.next_attempt_at <= ${now}::timestamptz
            returning d.project_id, d.id, d.endpoint_id, d.event_id, d.attempts
          )
          select c.*, w.url, w.secret_encrypted, e.type, e.payload, e.created_at as event_at
          from claimed c
          join webhook_endpoints w on w.project_id = c.project_id and w.id = c.endpoint_id
          join events e on e.project_id = c.project_id and e.id = c.event_id
          order by c.endpoint_id, c.event_id`,
    )
  })
  return claimed.map((r) => ({
    projectId: r.project_id,
    id: Number(r.id),
    endpointId: r.endpoint_id,
    eventId: Number(r.event_id),
    attempt: r.attempts,
    url: r.url,
    secretEncrypted: r.secret_encrypted,
    event: {
      type: r.type,
      payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload,
      createdAt: new Date(r.event_at),
    },
  }))
}

/** What the receiver gets: the event's id, type and time, and its facts under `data`. */
export function webhookMessage(delivery: Pick<ClaimedDelivery, 'eventId' | 'event'>) {
  const id = `evt_${delivery.eventId}`
  const body = JSON.stringify({
    id,
    type: delivery.event.type,
    timestamp: delivery.event.createdAt.toISOString(),
    data: delivery.event.payload,
  })
  return { id, body }
}

export async function markWebhookDelivered(
  db: Executor,
  input: { projectId: string; id: number; statusCode: number; now?: Date },
) {
  await db.execute(
    sql`update webhook_deliveries
        set status = 'delivered', delivered_at = ${(input.now ?? new Date()).toISOString()}::timestamptz,
            last_status_code = ${input.statusCode}, last_error = null
        where project_id = ${input.projectId} and id = ${input.id}`,
  )
}

/**
 * A failed attempt: due again after the schedule's delay, or, after the last one, given up. An
 * endpoint whose delivery gives up is disabled (it has failed for more than a day) and an audit
 * row says so (`webhook.auto_disable`); the console shows it off, with the delivery log saying
 * why, and turning it on again resumes.
 */
export async function markWebhookFailed(
  db: Executor,
  input: {
    projectId: string
    id: number
    endpointId: string
    attempt: number
    error: string
    now?: Date
  },
): Promise<{ gaveUp: boolean }> {
  const now = input.now ?? new Date()
  const delay = WEBHOOK_RETRY_DELAYS_SECONDS[input.attempt - 1]
  if (delay === undefined) {
    await db.execute(
      sql`update webhook_deliveries set status = 'failed', last_error = ${input.error},
            last_status_code = null
          where project_id = ${input.projectId} and id = ${input.id}`,
    )
    const turnedOff = await rows<{ url: string }>(
      db,
      sql`update webhook_endpoints set disabled_at = ${now.toISOString()}::timestamptz
          where project_id = ${input.projectId} and id = ${input.endpointId} and disabled_at is null
          returning url`,
    )
    // The operator is told: the audit log (console) says which endpoint went off and why.
    if (turnedOff.length > 0)
      await recordAudit(db, {
        projectId: input.projectId,
        actor: 'system',
        action: 'webhook.auto_disable',
        target: `webhook:${input.endpointId}`,
        after: {
          url: turnedOff[0]!.url,
          deliveryId: input.id,
          attempts: input.attempt,
          lastError: input.error,
        },
      })
    return { gaveUp: true }
  }
  await db.execute(
    sql`update webhook_deliveries
        set next_attempt_at = ${new Date(now.getTime() + delay * 1000).toISOString()}::timestamptz,
            last_error = ${input.error}, last_status_code = null
        where project_id = ${input.projectId} and id = ${input.id}`,
  )
  return { gaveUp: false }
}
