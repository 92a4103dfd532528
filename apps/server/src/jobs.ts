import type { Logger } from '@e-stars/api'
import { expireDue, purgeCustomerSessions, purgeOperatorSessions } from '@e-stars/billing'
import type { Db } from '@e-stars/db'

/**
 * Background jobs on an interval. Each run is safe on many replicas (the work itself is
 * coordinated through row locks), and a run never overlaps the previous one.
 */
export function startJobs(db: Db, logger: Logger, options: { expiryIntervalMs: number }) {
  let running: Promise<void> | null = null
  const expiry = setInterval(() => {
    if (running) return
    running = expireDue(db)
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
    purgeOperatorSessions(db).catch((error: unknown) =>
      logger.error({ job: 'sessions', err: error }, 'session purge failed'),
    )
    purgeCustomerSessions(db).catch((error: unknown) =>
      logger.error({ job: 'sessions', err: error }, 'Mini App session purge failed'),
    )
  }, 3_600_000)
  sessions.unref()
  return {
    async stop() {
      clearInterval(sessions)
      clearInterval(expiry)
      await running
    },
  }
}
