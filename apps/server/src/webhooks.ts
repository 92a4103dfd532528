import type { Logger } from '@e-stars/api'
import {
  type ClaimedDelivery,
  claimWebhookDeliveries,
  decodeWebhookSecret,
  markWebhookDelivered,
  markWebhookFailed,
  queueWebhookDeliveries,
  type Secrets,
  signingSecrets,
  webhookHeaders,
  webhookMessage,
} from '@e-stars/billing'
import { type Db, serializeError } from '@e-stars/db'
import { jobMetrics } from './metrics.ts'
import type { Outbound } from './outbound.ts'

export interface WebhookDispatcherOptions {
  outbound: Outbound
  secrets: Secrets
  intervalMs?: number
  /**
   * How long a claimed delivery belongs to this process (60 s): after a crash, another replica
   * sends it again once the lease lapses. Each attempt is bounded to half of it.
   */
  leaseMs?: number
  /** Per attempt, the whole request (the 10 s; at most half the lease). */
  timeoutMs?: number
}

/** Claim rounds per run: a backlog drains within a run, and new events are queued between runs. */
const ROUNDS_PER_RUN = 200

/**
 * Signed webhooks (docs/webhooks.md): each run copies new outbox events into every endpoint's
 * deliveries, then sends the due ones through the outbound guard (no private addresses unless
 * allowed, no redirects, a 10 s bound), signed with the endpoint's secret (and its previous one
 * during a rotation's overlap). An endpoint gets one delivery at a time, in event order, across
 * every replica (claimWebhookDeliveries): each round sends at most one per endpoint, different
 * endpoints at once; a failing delivery holds its endpoint's next ones until its retry.
 */
export function createWebhookDispatcher(db: Db, logger: Logger, options: WebhookDispatcherOptions) {
  const inFlight = new AbortController()
  let stopped = false
  const leaseMs = options.leaseMs ?? 60_000
  const timeoutMs = Math.min(options.timeoutMs ?? 10_000, Math.floor(leaseMs / 2))

  async function deliver(delivery: ClaimedDelivery, now: Date): Promise<boolean> {
    const log = {
      projectId: delivery.projectId,
      endpointId: delivery.endpointId,
      deliveryId: delivery.id,
    }
    let secrets: string[]
    try {
      const stored = decodeWebhookSecret(
        options.secrets.decryptWebhookSecret(
          delivery.projectId,
          delivery.endpointId,
          delivery.secretEncrypted,
        ),
      )
      secrets = signingSecrets(stored, now)
    } catch (error) {
      logger.error(
        { ...log, err: serializeError(error) },
        'webhooks: secret not readable (SECRET_KEY changed?)',
      )
      await markWebhookFailed(db, {
        ...delivery,
        error: 'the signing secret could not be read',
        now,
      })
      return false
    }
    const message = webhookMessage(delivery)
    const startedAt = Date.now()
    const sent = await options.outbound.post(delivery.url, {
      headers: {
        'content-type': 'application/json',
        'user-agent': 'e-Stars-Webhooks/1',
        ...webhookHeaders(secrets, { ...message, timestamp: Math.floor(Date.now() / 1000) }),
      },
      body: message.body,
      timeoutMs,
      maxResponseBytes: 4096,
      signal: inFlight.signal,
      log: { ...log, attempt: delivery.attempt },
    })
    if (sent.delivered) {
      await markWebhookDelivered(db, { ...delivery, statusCode: sent.status })
      return true
    }
    const { gaveUp } = await markWebhookFailed(db, {
      ...delivery,
      error: sent.error,
      // The backoff counts from the attempt's end (it may have waited out its timeout).
      now: new Date(now.getTime() + (Date.now() - startedAt)),
    })
    if (gaveUp)
      logger.warn(
        { ...log, attempts: delivery.attempt },
        'webhooks: gave up on a delivery; the endpoint is disabled until an operator turns it on',
      )
    return false
  }

  /** One pass; `now` lets a test stand a day later without waiting for it. */
  async function runOnce(
    now: Date = new Date(),
  ): Promise<{ queued: number; sent: number; failed: number }> {
    const queued = await queueWebhookDeliveries(db, now)
    // Each round reads the clock again (a run may last longer than a lease), shifted as `now` is.
    const shift = now.getTime() - Date.now()
    let sent = 0
    let failed = 0
    for (let round = 0; round < ROUNDS_PER_RUN && !stopped; round++) {
      const at = new Date(Date.now() + shift)
      const claimed = await claimWebhookDeliveries(db, { leaseMs, now: at })
      if (claimed.length === 0) break
      // One per endpoint: endpoints are independent, so they are sent at once.
      const results = await Promise.all(
        claimed.map((delivery) => deliver(delivery, new Date(Date.now() + shift))),
      )
      for (const ok of results) {
        if (ok) sent++
        else failed++
      }
    }
    return { queued, sent, failed }
  }

  let running: Promise<unknown> | null = null
  const tick = () => {
    if (stopped || running) return
    running = jobMetrics
      .track('webhooks', () => runOnce())
      .catch((error: unknown) => {
        if (!stopped)
          logger.error({ job: 'webhooks', err: serializeError(error) }, 'webhook job failed')
      })
      .finally(() => {
        running = null
      })
  }
  let timer: NodeJS.Timeout | null = null
  return {
    runOnce,
    start() {
      timer = setInterval(tick, options.intervalMs ?? 2000)
      timer.unref()
    },
    async stop() {
      stopped = true
      if (timer) clearInterval(timer)
      inFlight.abort()
      await running
    },
  }
}
