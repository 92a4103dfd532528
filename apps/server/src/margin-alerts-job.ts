import type { Logger } from '@e-stars/api'
import { checkDueMarginAlerts } from '@e-stars/billing'
import type { Db } from '@e-stars/db'
import { jobMetrics } from './metrics.ts'

/** Hourly: a project's day ends at its own midnight, so the alert follows within the hour. */
export const MARGIN_ALERTS_INTERVAL_MS = 3_600_000

/**
 * One pass of the daily margin alerts (`margin.below_threshold`, docs/margin.md): every project
 * with an alert percentage, its last completed days. Counted in the job metrics; a failure is
 * logged, never thrown.
 */
export async function runMarginAlerts(db: Db, logger: Logger, now?: Date): Promise<number> {
  try {
    const result = await jobMetrics.track('margin-alerts', () => checkDueMarginAlerts(db, { now }))
    if (result.events > 0)
      logger.info(
        { job: 'margin-alerts', projects: result.projects, events: result.events },
        'margin alerts written',
      )
    return result.events
  } catch (error) {
    logger.error({ job: 'margin-alerts', err: error }, 'margin alerts job failed')
    return 0
  }
}

/**
 * The margin alerts on an interval. Safe on many replicas and across restarts: a day's alert for
 * a subject is written once (under the project's events lock), so runs may repeat or overlap.
 */
export function startMarginAlertsJob(
  db: Db,
  logger: Logger,
  options: { intervalMs?: number } = {},
) {
  let running: Promise<unknown> | null = null
  const timer = setInterval(() => {
    running ??= runMarginAlerts(db, logger).finally(() => {
      running = null
    })
  }, options.intervalMs ?? MARGIN_ALERTS_INTERVAL_MS)
  timer.unref()
  return {
    async stop() {
      clearInterval(timer)
      await running
    },
  }
}
