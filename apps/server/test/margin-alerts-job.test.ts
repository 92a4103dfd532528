/**
 * Issue 14: the daily margin alert runs by itself. The job checks every project with an alert
 * percentage, for its last completed days in its own time zone, and writes the day's
 * `margin.below_threshold` event once, however often it runs.
 */
import { randomBytes } from 'node:crypto'
import {
  consume,
  createProject,
  grantCredits,
  pollEvents,
  updateMarginSettings,
} from '@e-stars/billing'
import type { Database } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runMarginAlerts, startMarginAlertsJob } from '../src/margin-alerts-job.ts'
import { createMetrics } from '../src/metrics.ts'
import { captureLogs } from './log-capture.ts'

let database: Database
const key = () => randomBytes(8).toString('hex')
const DAY_MS = 86_400_000

beforeAll(async () => {
  database = await createTestDatabase()
})
afterAll(() => database?.close())

/** A project whose answers today cost 0.6 USD against 0.1 USD of revenue: margin −500 %. */
async function losingProject(alertPercent: number | null) {
  const { db } = database
  const project = await createProject(db, { name: `margin alerts ${alertPercent}` })
  if (alertPercent !== null)
    await updateMarginSettings(db, {
      projectId: project.id,
      actor: 'test',
      patch: { marginAlertPercent: alertPercent },
    })
  await grantCredits(db, {
    projectId: project.id,
    telegramUserId: 42,
    amount: 100,
    reason: 'pack',
    source: 'manual',
    actor: 'test',
    idempotencyKey: key(),
    valueMicros: 1_000_000,
  })
  await consume(db, {
    projectId: project.id,
    telegramUserId: 42,
    amount: 10,
    reason: 'answer',
    actor: 'test',
    idempotencyKey: key(),
    usage: { provider: 'acme', model: 'a', inputTokens: 10, outputTokens: 10, costMicros: 600_000 },
  })
  return project.id
}

const alertsOf = async (projectId: string) =>
  (await pollEvents(database.db, { projectId, limit: 100 })).events.filter(
    (e) => e.type === 'margin.below_threshold',
  )

describe('the margin alerts job', () => {
  it('writes the day’s alert once for a project below its threshold, none for the others', async () => {
    const losing = await losingProject(20)
    const unwatched = await losingProject(null)
    const capture = captureLogs()
    // Today's figures are a completed day tomorrow.
    const tomorrow = new Date(Date.now() + DAY_MS)
    expect(await runMarginAlerts(database.db, capture.logger, tomorrow)).toBeGreaterThanOrEqual(1)
    expect(await runMarginAlerts(database.db, capture.logger, tomorrow)).toBe(0)
    const alerts = await alertsOf(losing)
    expect(alerts).toHaveLength(1)
    expect(alerts[0]!.payload).toMatchObject({
      day: new Date().toISOString().slice(0, 10),
      subject: 'project',
      revenueMicros: 100_000,
      costMicros: 600_000,
      thresholdPercent: 20,
    })
    expect(await alertsOf(unwatched)).toEqual([])
    // Before the day is over, nothing is written for it.
    const early = await losingProject(20)
    expect(await runMarginAlerts(database.db, capture.logger, new Date())).toBe(0)
    expect(await alertsOf(early)).toEqual([])
    expect(capture.lines.join('\n')).toContain('margin alerts written')
    const metrics = await createMetrics(database.db).text()
    expect(metrics.body).toMatch(/estars_job_runs_total\{job="margin-alerts",outcome="success"\} 3/)
  })

  it('runs on its interval and stops cleanly', async () => {
    const runs = async () =>
      Number(
        /estars_job_runs_total\{job="margin-alerts",outcome="success"\} (\d+)/.exec(
          (await createMetrics(database.db).text()).body,
        )?.[1] ?? 0,
      )
    const before = await runs()
    const job = startMarginAlertsJob(database.db, captureLogs().logger, { intervalMs: 20 })
    try {
      await expect.poll(runs, { timeout: 10_000 }).toBeGreaterThanOrEqual(before + 2)
    } finally {
      await job.stop()
    }
    const stopped = await runs()
    await new Promise((r) => setTimeout(r, 100))
    expect(await runs()).toBe(stopped)
  })
})
