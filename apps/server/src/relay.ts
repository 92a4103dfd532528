import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Logger, PaymentServices } from '@e-stars/api'
import {
  type ClaimedUpdate,
  claimRelayUpdates,
  markRelayFailed,
  markRelayForwarded,
  precheck,
  recordPaidMediaPurchase,
  recordPayment,
  recordRefund,
  recordSubscriptionUpdate,
  relayProject,
  releaseRelayClaim,
  storeRelayUpdate,
} from '@e-stars/billing'
import { type Db, isDatabaseUnavailable, serializeError } from '@e-stars/db'
import { MalformedPaymentUpdateError, parsePaymentUpdate } from '@e-stars/telegram'
import express from 'express'
import { setRetryAfter } from './app.ts'
import { jobMetrics } from './metrics.ts'
import type { Outbound } from './outbound.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Equal-length digests, so neither the content nor the length of the secret leaks through timing. */
export function secretMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(expected), digest(presented))
}

export interface RelayOptions {
  db: Db
  logger: Logger
  services: PaymentServices
  /** Called after an update is stored, to forward it without waiting for the next tick. */
  onStored?: () => void
}

/**
 * A Telegram update is at most a few tens of KB (4,096 characters of text plus entities, a
 * replied-to message, a payment); 1 MB leaves room, and a refused update would block the bot's
 * webhook (Telegram redelivers it, in order, before anything newer).
 */
const MAX_UPDATE_BYTES = '1mb'

/** Answers in the Bot API's own error shape, the one a webhook's caller (Telegram) speaks. */
function telegramError(res: express.Response, status: number, description: string) {
  res.status(status).json({ ok: false, error_code: status, description })
}

/**
 * Not stored: answer non-2xx so Telegram redelivers (recording is idempotent). While the database
 * is unreachable that is a 503 with `Retry-After`.
 */
function notStored(res: express.Response, error: unknown) {
  if (isDatabaseUnavailable(error)) {
    setRetryAfter(res)
    telegramError(res, 503, 'Service Unavailable: database unavailable, retry')
  } else {
    telegramError(res, 500, 'Internal Server Error: not stored, retry')
  }
}

/**
 * A missing project, a project without a relay and a wrong secret answer alike, so the relay
 * tells a stranger nothing about which projects exist; the log says which it was.
 */
function refuse(res: express.Response) {
  telegramError(res, 403, 'Forbidden')
}

/** Compared against when there is no secret to compare with, so every refusal costs the same. */
const NO_SECRET = randomBytes(32).toString('base64url')

/** The body parser's own errors (bad JSON, too large), in Telegram's shape: never a stack. */
const unreadableUpdate: express.ErrorRequestHandler = (error: unknown, _req, res, next) => {
  const type = (error as { type?: unknown } | null)?.type
  if (res.headersSent || typeof type !== 'string' || !type.startsWith('entity.')) {
    next(error)
    return
  }
  if (type === 'entity.too.large') telegramError(res, 413, 'Request Entity Too Large')
  else telegramError(res, 400, 'Bad Request: the body is not a JSON update')
}

/**
 * `POST /telegram/<projectId>`: Telegram's webhook for bots that keep their code. Checks the
 * secret header, records payments and refunds and answers pre-checkout itself — all committed
 * before the 200 — then leaves the update in the inbox for the forwarder.
 */
export function mountRelay(app: express.Express, options: RelayOptions) {
  const { db, logger, services } = options
  app.post(
    '/telegram/:projectId',
    async (req, res, next) => {
      const projectId = String(req.params.projectId)
      let project: Awaited<ReturnType<typeof relayProject>> = null
      try {
        project = UUID.test(projectId) ? await relayProject(db, projectId) : null
      } catch (error) {
        logger.error({ projectId, err: serializeError(error) }, 'relay: project lookup failed')
        notStored(res, error)
        return
      }
      const presented = req.get('x-telegram-bot-api-secret-token')
      const matches = secretMatches(project?.webhookSecret ?? NO_SECRET, presented)
      if (!project?.webhookSecret || !matches) {
        const reason = !project
          ? 'no such project'
          : !project.webhookSecret
            ? 'no relay configured'
            : presented === undefined
              ? 'no webhook secret'
              : 'wrong webhook secret'
        logger.warn({ projectId, ip: req.ip, reason }, 'relay: refused')
        // The body is never read: a stranger's bytes do not reach the JSON parser.
        res.set('connection', 'close')
        refuse(res)
        return
      }
      res.locals.project = project
      next()
    },
    express.json({ limit: MAX_UPDATE_BYTES }),
    async (req, res) => {
      const project = res.locals.project as NonNullable<Awaited<ReturnType<typeof relayProject>>>
      const update = req.body as { update_id?: unknown } & Record<string, unknown>
      if (
        typeof update !== 'object' ||
        update === null ||
        !Number.isSafeInteger(update.update_id)
      ) {
        telegramError(res, 400, 'Bad Request: not a Telegram update')
        return
      }
      const projectId = project.id
      const log = { projectId, updateId: update.update_id }
      try {
        let forward = project.relayTarget !== null
        let event: ReturnType<typeof parsePaymentUpdate> = null
        try {
          event = parsePaymentUpdate(update)
        } catch (error) {
          // Stored and forwarded as is; reconciliation will find the charge if it was one.
          if (!(error instanceof MalformedPaymentUpdateError)) throw error
          logger.error({ ...log, issues: error.issues }, 'relay: malformed payment update')
        }
        if (event?.kind === 'successful_payment') {
          const outcome = await recordPayment(db, {
            projectId,
            payment: event.payment,
            from: event.from,
            secrets: services.secrets,
            via: 'relay',
          })
          logger.info(
            {
              ...log,
              paymentId: outcome.paymentId,
              status: outcome.status,
              duplicate: outcome.duplicate,
            },
            'relay: payment recorded',
          )
        } else if (event?.kind === 'refunded_payment') {
          const outcome = await recordRefund(db, {
            projectId,
            refund: event.refund,
            from: event.from,
            via: 'relay',
          })
          logger.info(
            { ...log, paymentId: outcome.paymentId, alreadyRefunded: outcome.alreadyRefunded },
            'relay: refund applied',
          )
        } else if (event?.kind === 'subscription') {
          // Recorded at once: a cancel stops renewal, a failure starts the grace, both keep access.
          const outcome = await recordSubscriptionUpdate(db, {
            projectId,
            update: event.subscription,
            secrets: services.secrets,
            updateId: event.updateId,
          })
          logger.info(
            { ...log, status: outcome.status, flag: outcome.flag, state: event.subscription.state },
            'relay: subscription state recorded',
          )
        } else if (event?.kind === 'purchased_paid_media') {
          const outcome = await recordPaidMediaPurchase(db, {
            projectId,
            purchase: event.purchase,
            secrets: services.secrets,
            via: 'relay',
            updateId: event.updateId,
          })
          logger.info(
            {
              ...log,
              result: outcome.result,
              flag: outcome.flag,
              paymentId: outcome.payment?.paymentId ?? null,
              duplicate: outcome.payment?.duplicate ?? null,
            },
            'relay: paid media purchase recorded',
          )
        } else if (event?.kind === 'pre_checkout_query' && project.botTokenEncrypted) {
          const verdict = await precheck(db, {
            projectId,
            query: event.query,
            secrets: services.secrets,
          })
          try {
            const api = await services.botApiFor(projectId)
            await api.answerPreCheckoutQuery({
              pre_checkout_query_id: event.query.id,
              ok: verdict.ok,
              ...(verdict.ok ? {} : { error_message: verdict.errorMessage }),
            })
          } catch (error) {
            logger.warn(
              { ...log, err: serializeError(error) },
              'relay: answering pre-checkout failed',
            )
          }
          // Answered here; the bot's own answer would only fail with "query is too old".
          forward = false
        }
        await storeRelayUpdate(db, {
          projectId,
          update: update as { update_id: number } & Record<string, unknown>,
          forward,
        })
      } catch (error) {
        // Not acknowledged: Telegram retries, and recording is idempotent.
        logger.error({ ...log, err: serializeError(error) }, 'relay: update not stored')
        notStored(res, error)
        return
      }
      res.status(200).end()
      options.onStored?.()
    },
  )
  app.use('/telegram', unreadableUpdate)
}

export interface ForwarderOptions {
  intervalMs: number
  /** How long a claimed update is this replica's before another may retry it (crash recovery). */
  leaseMs: number
  timeoutMs?: number
  services: PaymentServices
  /** The outbound guard every forward goes through (public targets only, no redirects). */
  outbound: Outbound
}

/** A bot's webhook reply is one Bot API call; anything longer is not read (nor executed). */
const MAX_REPLY_BYTES = 64 * 1024

const MAX_AGE_MS = 24 * 60 * 60 * 1000

/**
 * Forwards stored updates to each project's relay target (its bot's own webhook), in order per
 * project, with back-off (1 s doubling to 60 s) for 24 h. A method in the bot's 2xx reply
 * (Telegraf's webhookReply) is executed through the project's bot, as Telegram would.
 */
export function startRelayForwarder(db: Db, logger: Logger, options: ForwarderOptions) {
  const inFlight = new AbortController()
  let running: Promise<void> | null = null
  let again = false
  let stopped = false

  async function forward(update: ClaimedUpdate): Promise<boolean> {
    const key = { projectId: update.projectId, updateId: update.updateId }
    if (!update.relayTarget) {
      await markRelayFailed(db, { ...key, error: 'no relay target', nextAttemptAt: null })
      return true
    }
    // Stopping mid-forward rejects: a crash as far as the update knows (its lease runs out, then retry).
    const sent = await options.outbound.post(update.relayTarget, {
      headers: {
        'content-type': 'application/json',
        ...(update.webhookSecret
          ? { 'x-telegram-bot-api-secret-token': update.webhookSecret }
          : {}),
      },
      body: JSON.stringify(update.payload),
      timeoutMs: options.timeoutMs ?? 10_000,
      maxResponseBytes: MAX_REPLY_BYTES,
      signal: inFlight.signal,
      log: { ...key, attempts: update.attempts },
    })
    if (sent.delivered) {
      await markRelayForwarded(db, key)
      if (sent.body !== null) await executeWebhookReply(update.projectId, sent.body)
      else logger.warn(key, 'relay: webhook reply longer than 64 KiB, not executed')
      return true
    }
    // Only the guard's coarse words reach the owner; the detail is in the guard's log line.
    const error = sent.error
    const tooOld = Date.now() - update.receivedAt.getTime() > MAX_AGE_MS
    const delay = Math.min(1000 * 2 ** Math.max(0, update.attempts - 1), 60_000)
    await markRelayFailed(db, {
      ...key,
      error,
      nextAttemptAt: tooOld ? null : new Date(Date.now() + delay),
    })
    if (tooOld) logger.warn({ ...key, attempts: update.attempts, err: error }, 'relay: gave up')
    return false
  }

  async function executeWebhookReply(projectId: string, body: string) {
    if (!body.startsWith('{')) return
    try {
      const { method, ...params } = JSON.parse(body) as { method?: unknown }
      if (typeof method !== 'string') return
      const api = await options.services.botApiFor(projectId)
      await api.call(method, params)
    } catch (error) {
      logger.warn({ projectId, err: serializeError(error) }, 'relay: webhook reply not executed')
    }
  }

  async function runOnce() {
    const claimed = await claimRelayUpdates(db, { leaseMs: options.leaseMs })
    const blocked = new Set<string>()
    for (const update of claimed) {
      if (stopped) return
      if (blocked.has(update.projectId)) {
        await releaseRelayClaim(db, update)
        continue
      }
      if (!(await forward(update))) blocked.add(update.projectId)
    }
  }

  function tick() {
    if (stopped) return
    if (running) {
      again = true
      return
    }
    running = jobMetrics
      .track('relay-forward', runOnce)
      .catch((error: unknown) => {
        if (!stopped)
          logger.error(
            { job: 'relay-forward', err: serializeError(error) },
            'relay forwarder failed',
          )
      })
      .finally(() => {
        running = null
        if (again && !stopped) {
          again = false
          tick()
        }
      })
  }

  const timer = setInterval(tick, options.intervalMs)
  timer.unref()
  return {
    /** Forward now (after a new update was stored). */
    kick: tick,
    async stop() {
      stopped = true
      clearInterval(timer)
      inFlight.abort()
      await running
    },
  }
}
