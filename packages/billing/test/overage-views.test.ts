import { projects } from '@e-stars/db'
import { eq } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import {
  defineFeature,
  getOverview,
  listTimeline,
  reserveFeature,
  setQuota,
  settleFeature,
} from '../src/index.ts'
import { createProject, fund, key, useDatabase } from './fixtures.ts'

const t = useDatabase()

async function tokensProject(policy: 'cap' | 'debt' | 'absorb') {
  const p = await createProject(t.db)
  await t.db.update(projects).set({ overagePolicy: policy }).where(eq(projects.id, p))
  await defineFeature(t.db, {
    projectId: p,
    key: 'ai.tokens',
    name: 'AI',
    kind: 'metered',
    perUnits: 100,
  })
  await setQuota(t.db, {
    projectId: p,
    featureKey: 'ai.tokens',
    scope: 'project',
    limit: 5000,
    period: 'day',
    free: true,
  })
  return p
}

async function overrun(projectId: string, telegramUserId: number, reserved: number, used: number) {
  const r = await reserveFeature(t.db, {
    projectId,
    telegramUserId,
    feature: 'ai.tokens',
    quantity: reserved,
    actor: 't',
    idempotencyKey: key(),
  })
  return settleFeature(t.db, {
    projectId,
    reservationId: r.reservationId,
    quantity: used,
    actor: 't',
    idempotencyKey: key(),
  })
}

const today = () => {
  const from = new Date(Date.now() - 86_400_000)
  return { from, to: new Date(Date.now() + 86_400_000) }
}

describe('shortfalls on the customer page and in the Overview (issue 19)', () => {
  it('the customer timeline says a free-only shortfall in words, and the Overview counts it', async () => {
    const p = await tokensProject('cap')
    await overrun(p, 1, 5000, 6050)
    const page = await listTimeline(t.db, { projectId: p, telegramUserId: 1 })
    expect(page.entries.map((e) => e.kind)).toEqual(['shortfall'])
    expect(page.entries[0]!.text).toMatch(
      /^11 credits unpaid for 1,050 units beyond what was paid: 11 not charged/,
    )
    const overview = await getOverview(t.db, { projectId: p, ...today() })
    expect(overview.shortfalls).toEqual({ count: 1, credits: 11, debt: 0 })
  })

  it('debt: the timeline says what became debt, the Overview sums it and counts the part paid as consumed', async () => {
    const p = await tokensProject('debt')
    await fund(t.db, p, 2, 7)
    // Free 5,000 used up first, then 500 paid units held (5 credits), 1,000 used: 2 paid, 3 owed.
    await overrun(p, 2, 5000, 5000)
    await overrun(p, 2, 500, 1000)
    const page = await listTimeline(t.db, { projectId: p, telegramUserId: 2 })
    const shortfall = page.entries.find((e) => e.kind === 'shortfall')!
    expect(shortfall.text).toContain('2 paid from the balance, 3 became debt')
    const overview = await getOverview(t.db, { projectId: p, ...today() })
    expect(overview.shortfalls).toEqual({ count: 1, credits: 5, debt: 3 })
    expect(overview.creditsConsumed).toBe(7)
    expect(overview.topConsumers[0]).toMatchObject({ telegramUserId: 2, consumed: 7 })
  })
})
