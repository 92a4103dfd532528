import {
  createProject,
  createSecrets,
  generateSecretKey,
  marginBreakdown,
  marginSummary,
  seedDemoCatalog,
  seedDemoFeatures,
  unprofitableCustomers,
} from '@e-stars/billing'
import { createTestDatabase } from '@e-stars/db/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedDemoData } from '../src/demo-data.ts'

const t = {} as { database: Awaited<ReturnType<typeof createTestDatabase>> }
beforeAll(async () => {
  t.database = await createTestDatabase()
})
afterAll(() => t.database?.close())

describe('the demo’s margin story', () => {
  it('has one unprofitable heavy user and one model too cheap for its price', async () => {
    const db = t.database.db
    const project = await createProject(db, { name: 'Demo bot' })
    await seedDemoCatalog(db, project.id)
    await seedDemoFeatures(db, project.id)
    await seedDemoData(db, { projectId: project.id, secrets: createSecrets(generateSecretKey()) })
    const to = new Date(Date.now() + 1000)
    const period = { projectId: project.id, from: new Date(to.getTime() - 86_400_000), to }

    const byModel = await marginBreakdown(db, { ...period, by: 'model' })
    const cheap = byModel.find((r) => r.key === 'openai/gpt-4o-mini')
    const dear = byModel.find((r) => r.key === 'openai/o1')
    expect(cheap?.marginMicros).toBeGreaterThan(0)
    expect(dear?.costMicros).toBeGreaterThan(0)
    expect(dear?.marginMicros).toBeLessThan(0)
    // Every answer carried a usage record the price book priced: nothing unpriced, no act without cost.
    const summary = await marginSummary(db, period)
    expect(summary.unpricedActs).toBe(0)
    expect(summary.costMicros).toBe(byModel.reduce((sum, r) => sum + r.costMicros, 0))
    expect(summary.marginMicros).toBeGreaterThan(0)

    const losing = await unprofitableCustomers(db, period)
    // Grace (the heavy user of the dear model) loses the most; anyone else below zero only used
    // the free allowance (no revenue: the cost of free usage).
    expect(losing[0]?.key).toBe('2000105')
    expect(losing[0]!.revenueMicros).toBeGreaterThan(0)
    expect(losing.slice(1).every((r) => r.revenueMicros === 0)).toBe(true)
  }, 120_000)
})
