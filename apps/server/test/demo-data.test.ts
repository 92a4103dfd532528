import {
  checkAccess,
  createProject,
  createSecrets,
  generateSecretKey,
  getOverview,
  searchCustomers,
  seedDemoCatalog,
  seedDemoFeatures,
} from '@e-stars/billing'
import { rows } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedDemoData } from '../src/demo-data.ts'

const t = {} as { database: Awaited<ReturnType<typeof createTestDatabase>> }
beforeAll(async () => {
  t.database = await createTestDatabase()
})
afterAll(() => t.database?.close())

describe('the demo history', () => {
  it('gives a newcomer customers, payments and usage that add up', async () => {
    const db = t.database.db
    const project = await createProject(db, { name: 'Demo bot' })
    await seedDemoCatalog(db, project.id)
    await seedDemoFeatures(db, project.id)
    const seeded = await seedDemoData(db, {
      projectId: project.id,
      secrets: createSecrets(generateSecretKey()),
    })
    expect(seeded).toEqual({ customers: 8, payments: 15 })
    const page = await searchCustomers(db, { projectId: project.id })
    expect(page.customers).toHaveLength(8)
    expect(page.customers.every((c) => c.lifetimeStars > 0)).toBe(true)
    const to = new Date(Date.now() + 1000)
    const overview = await getOverview(db, {
      projectId: project.id,
      from: new Date(to.getTime() - 15 * 86_400_000),
      to,
    })
    expect(overview.payments).toBe(15)
    expect(overview.payingCustomers).toBe(8)
    expect(overview.creditsConsumed).toBeGreaterThan(0)
    // Rule 4 holds for the seeded history too.
    const drift = await rows<{ id: string }>(
      db,
      sql`select c.id from customers c
          left join (select customer_id, sum(amount) a, sum(held_change) h, sum(debt_change) d
                     from ledger_entries group by 1) l on l.customer_id = c.id
          where c.available <> coalesce(l.a, 0) or c.held <> coalesce(l.h, 0) or c.debt <> coalesce(l.d, 0)`,
    )
    expect(drift).toEqual([])
  })

  /**
   * Issue 18, item 4: Alice was charged for 2,213 tokens today while her quota showed 101 of
   * 5,000 used, and the credits plotted on one day while the payments spread over two weeks.
   */
  it('quotas, usage, the ledger and the payments tell one story', async () => {
    const db = t.database.db
    const project = await createProject(db, { name: 'Demo bot, again' })
    await seedDemoCatalog(db, project.id)
    await seedDemoFeatures(db, project.id)
    const from = new Date()
    await seedDemoData(db, { projectId: project.id, secrets: createSecrets(generateSecretKey()) })
    const to = new Date()
    // Each customer's free allowance shows exactly the tokens metered today, and credits were
    // charged only for tokens past it.
    const usage = await rows<{
      telegram_user_id: string
      tokens: string
      free: string
      paid: string
    }>(
      db,
      sql`select c.telegram_user_id, sum(u.quantity) tokens, sum(u.free_quantity) free,
            sum(u.quantity - u.free_quantity) paid
          from usage_events u join customers c on c.id = u.customer_id
          where u.project_id = ${project.id} and u.feature_key = 'ai.tokens' group by 1`,
    )
    expect(usage).toHaveLength(8)
    for (const row of usage) {
      const access = await checkAccess(db, {
        projectId: project.id,
        telegramUserId: Number(row.telegram_user_id),
        feature: 'ai.tokens',
      })
      expect(access.freeAllowance?.used).toBe(Math.min(5_000, Number(row.tokens)))
      expect(Number(row.free)).toBe(Math.min(5_000, Number(row.tokens)))
    }
    // No credits spent on AI answers without a metered use behind them.
    const unmetered = await rows<{ id: string }>(
      db,
      sql`select e.id from ledger_entries e where e.project_id = ${project.id} and e.kind = 'consume'
          and not exists (select 1 from usage_events u where u.project_id = e.project_id
                          and u.ledger_entry_id = e.id)`,
    )
    expect(unmetered).toEqual([])
    // Every act is dated when it was recorded: a payment's time is its credits' time, a use's
    // time is its ledger entry's, and all of it lies within the seed.
    const skew = await rows<{ what: string; at: Date | string; recorded: Date | string }>(
      db,
      sql`select 'payment' what, p.paid_at at, g.created_at recorded from payments p
            join grants g on g.project_id = p.project_id and g.payment_id = p.id
            where p.project_id = ${project.id}
          union all
          select 'usage', u.occurred_at, e.created_at from usage_events u
            join ledger_entries e on e.project_id = u.project_id and e.id = u.ledger_entry_id
            where u.project_id = ${project.id}`,
    )
    expect(skew.length).toBeGreaterThan(15)
    for (const row of skew) {
      const at = new Date(row.at).getTime()
      expect(Math.abs(at - new Date(row.recorded).getTime()), row.what).toBeLessThan(5_000)
      expect(at).toBeGreaterThanOrEqual(from.getTime() - 1_000)
      expect(at).toBeLessThanOrEqual(to.getTime() + 1_000)
    }
  })
})
