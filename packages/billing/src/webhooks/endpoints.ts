import { type Executor, rows, webhookDeliveries, webhookEndpoints } from '@e-stars/db'
import { and, desc, eq, lt, sql } from 'drizzle-orm'
import { InvalidInput, NotFound } from '../errors.ts'
import type { TargetRule } from '../identity/project-telegram.ts'
import type { Secrets } from '../identity/secrets.ts'
import {
  decodeWebhookSecret,
  encodeWebhookSecret,
  generateWebhookSecret,
  WEBHOOK_SECRET_OVERLAP_SECONDS,
} from './signing.ts'

/** The events an endpoint may subscribe to (docs/webhooks.md); an empty list means all of them. */
export const WEBHOOK_EVENT_TYPES = [
  'payment.succeeded',
  'payment.refunded',
  'balance.low',
  'quota.exhausted',
  'free_allowance.exhausted',
  'subscription.renewed',
  'subscription.cancelled',
  'subscription.failed',
  'entitlement.granted',
  'entitlement.revoked',
  'reconciliation.finding',
  'cost_cap.reached',
  'margin.customer_unprofitable',
  'margin.unpriced_model',
  'subscription.update_unmatched',
  'paid_media.purchase_unmatched',
] as const

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number]

export const MAX_WEBHOOK_URL_LENGTH = 2048
/** Endpoints per project: enough for a backend and a few tools, not a fan-out service. */
export const MAX_WEBHOOK_ENDPOINTS = 10

export interface WebhookEndpoint {
  id: string
  url: string
  eventTypes: string[]
  /** The newest event already queued for this endpoint. */
  cursor: number
  disabledAt: Date | null
  createdAt: Date
  /**
   * During a secret rotation's overlap: when the previous secret stops signing (null otherwise,
   * or when the list was read without the server's secrets).
   */
  previousSecretUntil?: Date | null
}

const endpointColumns = {
  id: webhookEndpoints.id,
  url: webhookEndpoints.url,
  eventTypes: webhookEndpoints.eventTypes,
  cursor: webhookEndpoints.cursor,
  disabledAt: webhookEndpoints.disabledAt,
  createdAt: webhookEndpoints.createdAt,
}

/** The server's rule lets a loopback address through: ALLOW_PRIVATE_TARGETS (or no rule, a test). */
const privateTargetsAllowed = (rule: TargetRule | undefined) =>
  !rule || rule(new URL('http://127.0.0.1/')) === null

/**
 * An endpoint's URL: https (http too where private targets are allowed), at most 2,048
 * characters, and allowed by the server's outbound rule (a private or loopback address is refused
 * unless ALLOW_PRIVATE_TARGETS). Names are judged again, by their addresses, on every delivery.
 */
function checkWebhookUrl(target: string, rule: TargetRule | undefined): string {
  if (target.length > MAX_WEBHOOK_URL_LENGTH)
    throw new InvalidInput('url', `must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`)
  let url: URL
  try {
    url = new URL(target)
  } catch {
    throw new InvalidInput('url', 'must be an http(s) URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new InvalidInput('url', 'must be an http(s) URL')
  if (url.username || url.password)
    throw new InvalidInput('url', 'must not carry a user name or password')
  const refusal = rule?.(url) ?? null
  if (refusal) throw new InvalidInput('url', refusal)
  // Plain http only where private targets are allowed (the demo, tests: a local receiver); a
  // real endpoint gets its events, and their signatures, over TLS.
  if (url.protocol === 'http:' && !privateTargetsAllowed(rule))
    throw new InvalidInput('url', 'must be an https URL (http only with ALLOW_PRIVATE_TARGETS)')
  return url.toString()
}

function checkEventTypes(types: readonly string[]): string[] {
  const known = new Set<string>(WEBHOOK_EVENT_TYPES)
  const unknown = types.find((type) => !known.has(type))
  if (unknown !== undefined)
    throw new InvalidInput('eventTypes', `unknown event type ${JSON.stringify(unknown)}`)
  return [...new Set(types)]
}

/**
 * Registers an endpoint. Its cursor starts at the project's newest event: an endpoint receives
 * what happens from now on, not the project's history. The secret is returned this once.
 */
export async function createWebhookEndpoint(
  db: Executor,
  input: {
    projectId: string
    url: string
    eventTypes: readonly string[]
    secrets: Secrets
    targetRule?: TargetRule | undefined
  },
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const url = checkWebhookUrl(input.url, input.targetRule)
  const eventTypes = checkEventTypes(input.eventTypes)
  const [count] = await rows<{ n: string }>(
    db,
    sql`select count(*) as n from webhook_endpoints where project_id = ${input.projectId}`,
  )
  if (Number(count?.n ?? 0) >= MAX_WEBHOOK_ENDPOINTS)
    throw new InvalidInput('url', `a project has at most ${MAX_WEBHOOK_ENDPOINTS} endpoints`)
  const id = crypto.randomUUID()
  const secret = generateWebhookSecret()
  const [latest] = await rows<{ id: string | null }>(
    db,
    sql`select max(id) as id from events where project_id = ${input.projectId}`,
  )
  const [endpoint] = await db
    .insert(webhookEndpoints)
    .values({
      projectId: input.projectId,
      id,
      url,
      eventTypes,
      secretEncrypted: input.secrets.encryptWebhookSecret(input.projectId, id, secret),
      cursor: Number(latest?.id ?? 0),
    })
    .returning(endpointColumns)
  return { endpoint: endpoint as WebhookEndpoint, secret }
}

/**
 * A project's endpoints. With the server's `secrets`, each says whether a rotation's overlap is
 * running (`previousSecretUntil`); the secrets themselves never leave here.
 */
export async function listWebhookEndpoints(
  db: Executor,
  projectId: string,
  options: { secrets?: Secrets | undefined; now?: Date } = {},
): Promise<WebhookEndpoint[]> {
  const found = await db
    .select({ ...endpointColumns, secretEncrypted: webhookEndpoints.secretEncrypted })
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.projectId, projectId))
    .orderBy(webhookEndpoints.createdAt)
  const now = options.now ?? new Date()
  return found.map(({ secretEncrypted, ...endpoint }) => {
    if (!options.secrets) return endpoint as WebhookEndpoint
    let until: Date | null = null
    try {
      const stored = decodeWebhookSecret(
        options.secrets.decryptWebhookSecret(projectId, endpoint.id, secretEncrypted),
      )
      if (stored.previous && stored.previous.until > now) until = stored.previous.until
    } catch {
      // Not readable with this SECRET_KEY: the delivery log says so; the list still shows it.
    }
    return { ...(endpoint as WebhookEndpoint), previousSecretUntil: until }
  })
}

/**
 * Rotates an endpoint's signing secret: a new one, returned this once. For the overlap (24 h by
 * default) deliveries carry two signatures, with the new and the previous secret, so a receiver
 * still holding the previous one keeps verifying while it switches; after it, only the new one
 * signs. Rotating again during an overlap ends the older one: the secret being replaced becomes
 * the previous one.
 */
export async function rotateWebhookSecret(
  db: Executor,
  input: {
    projectId: string
    endpointId: string
    secrets: Secrets
    now?: Date
    overlapSeconds?: number
  },
): Promise<{ endpoint: WebhookEndpoint; secret: string; previousSecretUntil: Date }> {
  const [row] = await db
    .select({ secretEncrypted: webhookEndpoints.secretEncrypted })
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.projectId, input.projectId),
        eq(webhookEndpoints.id, input.endpointId),
      ),
    )
    .for('update')
  if (!row) throw new NotFound('Webhook endpoint', input.endpointId)
  const old = decodeWebhookSecret(
    input.secrets.decryptWebhookSecret(input.projectId, input.endpointId, row.secretEncrypted),
  )
  const secret = generateWebhookSecret()
  const until = new Date(
    (input.now ?? new Date()).getTime() +
      (input.overlapSeconds ?? WEBHOOK_SECRET_OVERLAP_SECONDS) * 1000,
  )
  const [endpoint] = await db
    .update(webhookEndpoints)
    .set({
      secretEncrypted: input.secrets.encryptWebhookSecret(
        input.projectId,
        input.endpointId,
        encodeWebhookSecret({ current: secret, previous: { secret: old.current, until } }),
      ),
    })
    .where(
      and(
        eq(webhookEndpoints.projectId, input.projectId),
        eq(webhookEndpoints.id, input.endpointId),
      ),
    )
    .returning(endpointColumns)
  return {
    endpoint: { ...(endpoint as WebhookEndpoint), previousSecretUntil: until },
    secret,
    previousSecretUntil: until,
  }
}

/**
 * Turns an endpoint off or on. Turning it on again resumes from where it stopped: deliveries
 * that gave up stay in the log (send them again one by one), new events are queued as usual.
 */
export async function setWebhookEndpointEnabled(
  db: Executor,
  input: { projectId: string; endpointId: string; enabled: boolean },
): Promise<WebhookEndpoint> {
  const [endpoint] = await db
    .update(webhookEndpoints)
    .set({ disabledAt: input.enabled ? null : new Date() })
    .where(
      and(
        eq(webhookEndpoints.projectId, input.projectId),
        eq(webhookEndpoints.id, input.endpointId),
      ),
    )
    .returning(endpointColumns)
  if (!endpoint) throw new NotFound('Webhook endpoint', input.endpointId)
  return endpoint as WebhookEndpoint
}

/** Removes an endpoint and its delivery log. */
export async function deleteWebhookEndpoint(
  db: Executor,
  input: { projectId: string; endpointId: string },
): Promise<{ deleted: true }> {
  await db
    .delete(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.projectId, input.projectId),
        eq(webhookDeliveries.endpointId, input.endpointId),
      ),
    )
  const [gone] = await db
    .delete(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.projectId, input.projectId),
        eq(webhookEndpoints.id, input.endpointId),
      ),
    )
    .returning({ id: webhookEndpoints.id })
  if (!gone) throw new NotFound('Webhook endpoint', input.endpointId)
  return { deleted: true }
}

export interface WebhookDeliveryRow {
  id: number
  endpointId: string
  eventId: number
  eventType: string
  status: 'pending' | 'delivered' | 'failed'
  attempts: number
  lastStatusCode: number | null
  lastError: string | null
  nextAttemptAt: Date
  deliveredAt: Date | null
  createdAt: Date
}

/** The delivery log of one endpoint, newest first, paged by `before` (a delivery id). */
export async function listWebhookDeliveries(
  db: Executor,
  input: { projectId: string; endpointId: string; before?: number | null; limit?: number },
): Promise<WebhookDeliveryRow[]> {
  const limit = input.limit ?? 50
  const found = await db
    .select({
      id: webhookDeliveries.id,
      endpointId: webhookDeliveries.endpointId,
      eventId: webhookDeliveries.eventId,
      eventType: sql<string>`(select e.type from events e where e.project_id = ${webhookDeliveries.projectId} and e.id = ${webhookDeliveries.eventId})`,
      status: webhookDeliveries.status,
      attempts: webhookDeliveries.attempts,
      lastStatusCode: webhookDeliveries.lastStatusCode,
      lastError: webhookDeliveries.lastError,
      nextAttemptAt: webhookDeliveries.nextAttemptAt,
      deliveredAt: webhookDeliveries.deliveredAt,
      createdAt: webhookDeliveries.createdAt,
    })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.projectId, input.projectId),
        eq(webhookDeliveries.endpointId, input.endpointId),
        input.before ? lt(webhookDeliveries.id, input.before) : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.id))
    .limit(limit)
  return found as WebhookDeliveryRow[]
}

/**
 * "Send again": the delivery is due now, whatever it did before (delivered, gave up or waiting on
 * its backoff). The receiver sees the same `webhook-id` and dedupes if it already had it.
 */
export async function resendWebhookDelivery(
  db: Executor,
  input: { projectId: string; deliveryId: number },
): Promise<{ id: number; status: 'pending' }> {
  const [row] = await db
    .update(webhookDeliveries)
    .set({ status: 'pending', nextAttemptAt: new Date(), attempts: 0 })
    .where(
      and(
        eq(webhookDeliveries.projectId, input.projectId),
        eq(webhookDeliveries.id, input.deliveryId),
      ),
    )
    .returning({ id: webhookDeliveries.id })
  if (!row) throw new NotFound('Webhook delivery', String(input.deliveryId))
  return { id: row.id, status: 'pending' }
}
