import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { type Database, openDatabase, rows } from '../src/index.ts'
import {
  createTestDatabase,
  onPostgres,
  openPgliteFromSnapshot,
  pgliteSnapshot,
  snapshotFileName,
} from '../src/testing.ts'

/** Everything a migration defines, in a comparable form. */
async function catalog(database: Database) {
  const q = (query: ReturnType<typeof sql>) => rows<Record<string, unknown>>(database.db, query)
  return {
    columns: await q(sql`
      select table_name, column_name, data_type, is_nullable, column_default
      from information_schema.columns where table_schema = 'public'
      order by table_name, column_name`),
    constraints: await q(sql`
      select conrelid::regclass::text as on_table, conname, pg_get_constraintdef(oid) as def
      from pg_constraint where connamespace = 'public'::regnamespace
      order by 1, 2`),
    indexes: await q(sql`
      select tablename, indexname, indexdef from pg_indexes where schemaname = 'public'
      order by 1, 2`),
    functions: await q(sql`
      select proname, pg_get_functiondef(oid) as def from pg_proc
      where pronamespace = 'public'::regnamespace order by 1`),
    triggers: await q(sql`
      select tgrelid::regclass::text as on_table, tgname from pg_trigger where not tgisinternal
      order by 1, 2`),
    migrations: await q(sql`select hash from drizzle.__drizzle_migrations order by id`),
  }
}

describe.skipIf(onPostgres)('the migrated PGlite snapshot behind createTestDatabase', () => {
  const dirs: string[] = []
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  it('has exactly the schema that running every migration from scratch gives', async () => {
    const fromScratch = await openDatabase({ dataDir: 'memory://' })
    const fromSnapshot = await createTestDatabase()
    try {
      const expected = await catalog(fromScratch)
      expect(expected.columns.length).toBeGreaterThan(50)
      expect(await catalog(fromSnapshot)).toEqual(expected)
    } finally {
      await fromScratch.close()
      await fromSnapshot.close()
    }
  })

  it('gives each test file its own database', async () => {
    const a = await createTestDatabase()
    const b = await createTestDatabase()
    try {
      await a.db.execute(sql`insert into projects (name) values ('only in a')`)
      expect(await rows(b.db, sql`select name from projects`)).toEqual([])
      expect(await rows(a.db, sql`select name from projects`)).toEqual([{ name: 'only in a' }])
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('is built once by concurrent first callers, taking over a lock left by a dead process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'e-stars-snapshot-test-'))
    dirs.push(dir)
    const file = snapshotFileName()
    // A lock whose holder is gone (a crashed worker) must not block the build.
    const noSuchPid = 2 ** 22 + 12_345 // above the largest pid Linux hands out
    writeFileSync(join(dir, `${file}.lock`), String(noSuchPid))
    // The real build (initdb + migrations) is the first test's; here only the locking counts.
    let builds = 0
    const build = async () => {
      builds++
      await new Promise((resolve) => setTimeout(resolve, 300))
      return new Uint8Array(randomBytes(1024))
    }

    const got = await Promise.all([1, 2, 3].map(() => pgliteSnapshot(dir, build)))
    expect(builds).toBe(1)
    expect(new Set(got.map((b) => Buffer.from(b).toString('hex'))).size).toBe(1)
    // One snapshot under its name, no lock and no partial file left behind.
    expect(readdirSync(dir)).toEqual([file])
    // Later callers read the file and never build.
    expect(Buffer.from(await pgliteSnapshot(dir, build)).equals(Buffer.from(got[0]!))).toBe(true)
    expect(builds).toBe(1)
  })

  it('loads a snapshot into a database of its own, migrations already applied', async () => {
    const reopened = await openPgliteFromSnapshot(await pgliteSnapshot())
    try {
      const [count] = await rows<{ n: number }>(
        reopened.db,
        sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
      )
      expect(count?.n).toBeGreaterThan(0)
    } finally {
      await reopened.close()
    }
  })
})
