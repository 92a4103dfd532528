import { randomUUID } from 'node:crypto'
import { type Database, type Db, projects, rows } from '@e-stars/db'
import { createTestDatabase, onPostgres } from '@e-stars/db/testing'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll } from 'vitest'
import { grantCredits } from '../src/index.ts'

/** A fresh database for the calling test file. */
export function useDatabase(options: { poolSize?: number } = {}) {
  const handle = {} as { database: Database; db: Db }
  beforeAll(async () => {
    handle.database = await createTestDatabase(options)
    handle.db = handle.database.db
  })
  afterAll(() => handle.database?.close())
  return handle
}

export async function createProject(db: Db, name = 'test project'): Promise<string> {
  const [project] = await db.insert(projects).values({ name }).returning({ id: projects.id })
  return project!.id
}

export const key = () => randomUUID()

export async function fund(
  db: Db,
  projectId: string,
  telegramUserId: number,
  amount: number,
  extra: { expiresAt?: Date; priority?: number; now?: Date } = {},
) {
  return grantCredits(db, {
    projectId,
    telegramUserId,
    amount,
    reason: 'test funds',
    source: 'promo',
    actor: 'test',
    idempotencyKey: key(),
    ...extra,
  })
}

/** Rule 4: the cached balance of every customer equals the sum of its ledger entries. */
export async function ledgerMismatches(db: Db) {
  return rows<{ id: string }>(
    db,
    sql`select c.id from customers c
        left join (select project_id, customer_id, sum(amount) a, sum(held_change) h, sum(debt_change) d
                   from ledger_entries group by 1, 2) l
          on l.project_id = c.project_id and l.customer_id = c.id
        where c.available <> coalesce(l.a, 0) or c.held <> coalesce(l.h, 0) or c.debt <> coalesce(l.d, 0)`,
  )
}

export async function countEntries(db: Db, projectId: string, kind?: string) {
  const [row] = await rows<{ n: string }>(
    db,
    sql`select count(*) n from ledger_entries where project_id = ${projectId} ${kind ? sql`and kind = ${kind}` : sql``}`,
  )
  return Number(row!.n)
}

export { onPostgres }
