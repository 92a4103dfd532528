import type { Logger, PaymentServices } from '@e-stars/api'
import { projectsWithBotToken, reconcile } from '@e-stars/billing'
import type { Db } from '@e-stars/db'
import { jobMetrics } from './metrics.ts'

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
  /** One run over every project; it counts as failed when any project's reconciliation did. */
  const runAll = async () => {
    let failed = false
    await runProjects(() => {
      failed = true
    }).catch((error: unknown) => {
      failed = true
      logger.error({ job: 'reconcile', err: error }, 'reconciliation run failed')
    })
    if (failed) jobMetrics.failed('reconcile')
    else jobMetrics.succeeded('reconcile')
  }
  const runProjects = async (projectFailed: () => void) => {
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
        projectFailed()
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
