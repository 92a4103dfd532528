import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, projects, rows } from '../src/index.ts'
import { createTestDatabase } from '../src/testing.ts'

describe('migrations', () => {
  let database: Database
  beforeAll(async () => {
    database = await createTestDatabase()
  })
  afterAll(() => database.close())

  it('creates every table the engine needs', async () => {
    const tables = await rows<{ table_name: string }>(
      database.db,
      sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`,
    )
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining([
        'api_keys',
        'audit_log',
        'customers',
        'grants',
        'holds',
        'idempotency_keys',
        'ledger_entries',
        'operators',
        'project_members',
        'projects',
      ]),
    )
  })

  it('rejects a lot whose remaining would go below zero', async () => {
    const [project] = await database.db.insert(projects).values({ name: 'p' }).returning()
    await database.db.execute(
      sql`insert into customers (project_id, telegram_user_id) values (${project!.id}, 1)`,
    )
    const [customer] = await rows<{ id: string }>(database.db, sql`select id from customers`)
    await expect(
      database.db.execute(
        sql`insert into grants (project_id, customer_id, amount, remaining, source, reason)
            values (${project!.id}, ${customer!.id}, 10, -1, 'manual', 'x')`,
      ),
    ).rejects.toThrow()
  })
})
