import type { Logger, PaymentServices } from '@e-stars/api'
import { projectsWithBotToken, reconcile } from '@e-stars/billing'
import type { Db } from '@e-stars/db'

/**
 * Reconciles every project that has a bot token, one after the other, every `intervalMs`. Safe
 * on many replicas: per project, a run that finds another one in progress is skipped.
 */
export function startReconcileJob(
  db: Db,
  logger: Logger,
  options: { intervalMs: number; services: PaymentServices },
) {
  let running: Promise<void> | null = null
  let stopped = false
  const runAll = async () => {
    for (const projectId of await projectsWithBotToken(db)) {
      if (stopped) return
      try {
        const result = await reconcile(db, {
          projectId,
          botApi: await options.services.botApiFor(projectId),
          secrets: options.services.secrets,
          trigger: 'interval',
        })
        if (result.status === 'succeeded' && result.findings.length > 0)
          logger.warn(
            { job: 'reconcile', projectId, runId: result.runId, summary: result.summary },
            'reconciliation found differences',
          )
      } catch (error) {
        logger.error({ job: 'reconcile', projectId, err: error }, 'reconciliation failed')
      }
    }
  }
  const timer =
    options.intervalMs > 0
      ? setInterval(() => {
          if (running) return
          running = runAll().finally(() => {
            running = null
          })
        }, options.intervalMs)
      : null
  timer?.unref()
  return {
    async stop() {
      stopped = true
      if (timer) clearInterval(timer)
      await running
    },
  }
}
