import { auditLog, customers } from '@e-stars/db'
import { and, eq, sql } from 'drizzle-orm'
import { beforeAll, describe, expect, it } from 'vitest'
import { adjustCredits } from '../src/index.ts'
import { createProject, fund, key, useDatabase } from './fixtures.ts'

const t = useDatabase()
let projectId: string
const user = 4242

beforeAll(async () => {
  projectId = await createProject(t.db)
  await fund(t.db, projectId, user, 1) // creates the customer
  await adjustCredits(t.db, {
    projectId,
    telegramUserId: user,
    amount: -1,
    reason: 'start from zero',
    actor: 'operator:owner@example.test',
    idempotencyKey: key(),
  })
  // A debt of 5, as a refund of spent credits leaves one.
  await t.db
    .update(customers)
    .set({ debt: sql`5` })
    .where(and(eq(customers.projectId, projectId), eq(customers.telegramUserId, user)))
})

describe("an operator's grant, audited", () => {
  it("records the balance before as the customer page showed it: debt, not a negative 'available'", async () => {
    await adjustCredits(t.db, {
      projectId,
      telegramUserId: user,
      amount: 10,
      reason: 'goodwill',
      actor: 'operator:owner@example.test',
      idempotencyKey: key(),
    })
    const [entry] = await t.db
      .select({ before: auditLog.before, after: auditLog.after })
      .from(auditLog)
      .where(and(eq(auditLog.projectId, projectId), eq(auditLog.action, 'credits.grant')))
    expect(entry?.before).toEqual({ available: 0, held: 0, debt: 5 })
    expect(entry?.after).toMatchObject({ available: 5, held: 0, debt: 0, amount: 10 })
  })
})
