import type { Logger } from '@e-stars/api'
import {
  type ClaimedDelivery,
  claimWebhookDeliveries,
  markWebhookDelivered,
  markWebhookFailed,
  queueWebhookDeliveries,
  releaseWebhookClaim,
  type Secrets,
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
  leaseMs?: number
  /** Per attempt, the whole request (the 10 s). */
  timeoutMs?: number
}

/**
 * Signed webhooks (docs/webhooks.md): each run copies new outbox events into every endpoint's
 * deliveries, then sends the due ones through the outbound guard (no private addresses unless
 * allowed, no redirects, a 10 s bound), signed with the endpoint's secret. One endpoint's
 * deliveries go one after another, and an endpoint that fails is not tried again in the same run.
 */
export function createWebhookDispatcher(db: Db, logger: Logger, options: WebhookDispatcherOptions) {
  const inFlight = new AbortController()
  let stopped = false

  async function deliver(delivery: ClaimedDelivery, now: Date): Promise<boolean> {
    const log = {
      projectId: delivery.projectId,
      endpointId: delivery.endpointId,
      deliveryId: delivery.id,
    }
    let secret: string
    try {
      secret = options.secrets.decryptWebhookSecret(
        delivery.projectId,
        delivery.endpointId,
        delivery.secretEncrypted,
      )
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
    const sent = await options.outbound.post(delivery.url, {
      headers: {
        'content-type': 'application/json',
        'user-agent': 'e-Stars-Webhooks/1',
        ...webhookHeaders(secret, { ...message, timestamp: Math.floor(Date.now() / 1000) }),
      },
      body: message.body,
      timeoutMs: options.timeoutMs ?? 10_000,
      maxResponseBytes: 4096,
      signal: inFlight.signal,
      log: { ...log, attempt: delivery.attempt },
    })
    if (sent.delivered) {
      await markWebhookDelivered(db, { ...delivery, statusCode: sent.status })
      return true
    }
    const { gaveUp } = await markWebhookFailed(db, { ...delivery, error: sent.error, now })
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
    const claimed = await claimWebhookDeliveries(db, { leaseMs: options.leaseMs, now })
    const failing = new Set<string>()
    let sent = 0
    let failed = 0
    for (const delivery of claimed) {
      if (stopped) break
      if (failing.has(delivery.endpointId)) {
        // Not tried: due again right away next run, without counting an attempt.
        await releaseWebhookClaim(db, { ...delivery, now })
        continue
      }
      if (await deliver(delivery, now)) sent++
      else {
        failed++
        failing.add(delivery.endpointId)
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
