import {
  createProject,
  createSecrets,
  generateSecretKey,
  getOverview,
  searchCustomers,
  seedDemoCatalog,
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
})
