import type { Logger } from '@e-stars/api'
import {
  expireDue,
  purgeCustomerSessions,
  purgeOperatorSessions,
  verifyLedger,
} from '@e-stars/billing'
import type { Db } from '@e-stars/db'
import { jobMetrics } from './metrics.ts'
import { createWebhookDispatcher, type WebhookDispatcherOptions } from './webhooks.ts'

/**
 * The scheduled ledger verification's state, for a metrics exporter: when it last ran, how long
 * it took, what it walked and how many customers' chains it found broken.
 */
export const ledgerVerification = {
  runs: 0,
  failures: 0,
  lastRunAt: null as Date | null,
  lastDurationMs: 0,
  lastEntries: 0,
  lastFindings: 0,
}

/** Findings logged per run; the count is always in `ledgerVerification.lastFindings`. */
const LOGGED_FINDINGS = 20

/**
 * One verification of every project's ledger (docs/security/ledger.md). Logs each finding as a
 * warning with its ids and problem, never customer data; read-only, so replicas may overlap.
 */
export async function runLedgerVerification(db: Db, logger: Logger): Promise<void> {
  const started = Date.now()
  try {
    const verification = await jobMetrics.track('ledger-verify', () => verifyLedger(db))
    ledgerVerification.lastEntries = verification.entries
    ledgerVerification.lastFindings = verification.findings.length
    for (const f of verification.findings.slice(0, LOGGED_FINDINGS))
      logger.warn(
        {
          job: 'ledger-verify',
          projectId: f.projectId,
          customerId: f.customerId,
          entryId: f.entryId,
          problem: f.problem,
        },
        'ledger verification found a broken entry',
      )
  } catch (error) {
    ledgerVerification.failures++
    logger.error({ job: 'ledger-verify', err: error }, 'ledger verification failed')
  } finally {
    ledgerVerification.runs++
    ledgerVerification.lastRunAt = new Date(started)
    ledgerVerification.lastDurationMs = Date.now() - started
  }
}

/**
 * Background jobs on an interval. Each run is safe on many replicas (the work itself is
 * coordinated through row locks), and a run never overlaps the previous one.
 */
export function startJobs(
  db: Db,
  logger: Logger,
  options: {
    expiryIntervalMs: number
    ledgerVerifyIntervalMs?: number
    /** Signed webhooks' delivery (webhooks.ts); absent: no deliveries from this process. */
    webhooks?: WebhookDispatcherOptions
  },
) {
  let running: Promise<void> | null = null
  const expiry = setInterval(() => {
    if (running) return
    running = jobMetrics
      .track('expiry', () => expireDue(db))
      .then((swept) => {
        if (swept > 0)
          logger.info(
            { job: 'expiry', customers: swept },
            'expired lots and holds written to the ledger',
          )
      })
      .catch((error: unknown) => logger.error({ job: 'expiry', err: error }, 'expiry job failed'))
      .finally(() => {
        running = null
      })
  }, options.expiryIntervalMs)
  expiry.unref()
  // Expired console sessions and old failed logins: hourly, idempotent, cheap.
  const sessions = setInterval(() => {
    void jobMetrics
      .track('sessions', () =>
        Promise.all([
          purgeOperatorSessions(db).catch((error: unknown) => {
            logger.error({ job: 'sessions', err: error }, 'session purge failed')
            throw error
          }),
          purgeCustomerSessions(db).catch((error: unknown) => {
            logger.error({ job: 'sessions', err: error }, 'Mini App session purge failed')
            throw error
          }),
        ]),
      )
      .catch(() => {})
  }, 3_600_000)
  sessions.unref()
  // The whole ledger, every six hours by default: the walk reads every entry once.
  let verifying: Promise<void> | null = null
  const ledger = setInterval(
    () => {
      verifying ??= runLedgerVerification(db, logger).finally(() => {
        verifying = null
      })
    },
    options.ledgerVerifyIntervalMs ?? 6 * 3_600_000,
  )
  ledger.unref()
  const webhooks = options.webhooks ? createWebhookDispatcher(db, logger, options.webhooks) : null
  webhooks?.start()
  return {
    async stop() {
      const webhooksStopped = webhooks?.stop()
      clearInterval(ledger)
      clearInterval(sessions)
      clearInterval(expiry)
      await Promise.all([running, verifying, webhooksStopped])
    },
  }
}
