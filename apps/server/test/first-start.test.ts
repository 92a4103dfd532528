/**
 * Defect 5: three server processes started at once on an empty PostgreSQL database. Each round
 * gets a fresh database; all three must come up healthy, and the first-start seed must exist
 * exactly once. `FIRST_START_ROUNDS` raises the number of rounds for a soak.
 *
 * "At once" is made exact rather than left to how fast tsx compiles on a busy machine: the test
 * holds a lock until all three processes are waiting on a lock in the database, then lets go.
 * Even rounds start on a database with no tables, gated on the migration lock (packages/db's
 * advisory lock); odd rounds on a migrated database with no rows (migrations applied by a
 * separate step), gated on the `projects` table, so every process reaches its first query of
 * the seed at the same moment.
 */
import { createSecrets, generateSecretKey } from '@e-stars/billing'
import { openDatabase, rows } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/postgres-js'
import { afterEach, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { openFirstStart } from '../src/first-start.ts'
import {
  createEmptyDatabase,
  type ServerProcess,
  spawnServer,
  testSecretKey,
  withConnection,
} from './spawn-server.ts'

const baseUrl = process.env.TEST_DATABASE_URL
const rounds = Number(process.env.FIRST_START_ROUNDS ?? 4)
const PROCESSES = 3

if (!baseUrl) {
  if (process.env.CI) throw new Error('first-start.test.ts needs TEST_DATABASE_URL under CI')
  console.warn(
    'first-start.test.ts: the three-process rounds are skipped; set TEST_DATABASE_URL to a PostgreSQL database',
  )
}

const COUNTS = {
  projects: 'select count(*)::int as n from projects',
  operators: `select count(*)::int as n from operators where email = 'demo@e-stars.local'`,
  members: 'select count(*)::int as n from project_members',
  quotas: 'select count(*)::int as n from quotas',
  payments: 'select count(*)::int as n from payments',
}

let running: ServerProcess[] = []
afterEach(async () => {
  await Promise.all(running.map((p) => p.stop()))
  running = []
})

/** packages/db/src/client.ts takes this advisory lock around its migrations. */
const MIGRATION_LOCK = 727_211_001

/**
 * Holds `kind`'s lock on the database until `waiting` backends wait on a lock there (or a
 * minute passed), then releases it. Resolves with how many were waiting.
 */
async function gate(url: string, kind: 'migrations' | 'projects', waiting: number) {
  const holder = drizzle({ connection: { url, max: 1, onnotice: () => {} } })
  const watcher = drizzle({ connection: { url, max: 1, onnotice: () => {} } })
  let release!: () => void
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  let locked!: () => void
  const held = new Promise<void>((resolve) => {
    locked = resolve
  })
  const holding =
    kind === 'migrations'
      ? (async () => {
          await holder.execute(sql`select pg_advisory_lock(${MIGRATION_LOCK})`)
          locked()
          await released
          await holder.execute(sql`select pg_advisory_unlock(${MIGRATION_LOCK})`)
        })()
      : holder.transaction(async (tx) => {
          await tx.execute(sql`lock table projects in access exclusive mode`)
          locked()
          await released
        })
  await held
  return {
    async open(): Promise<number> {
      let seen = 0
      const until = Date.now() + 60_000
      try {
        while (Date.now() < until) {
          const [row] = (await watcher.execute(
            sql`select count(*)::int as n from pg_stat_activity
                where datname = current_database() and wait_event_type = 'Lock'`,
          )) as unknown as { n: number }[]
          seen = Number(row?.n)
          if (seen >= waiting) break
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      } finally {
        release()
        await holding
        await Promise.all([holder.$client.end({ timeout: 5 }), watcher.$client.end({ timeout: 5 })])
      }
      return seen
    },
  }
}

async function count(url: string, query: string): Promise<number> {
  return withConnection(url, async (db) => {
    const [row] = (await db.execute(sql.raw(query))) as unknown as { n: number }[]
    return Number(row?.n)
  })
}

describe.skipIf(!baseUrl)(`a concurrent first start (${PROCESSES} processes)`, () => {
  it(
    `${PROCESSES} processes on an empty database all come up, and seed the demo once (${rounds} rounds)`,
    async () => {
      const failures: string[] = []
      for (let round = 0; round < rounds; round++) {
        const database = await createEmptyDatabase(baseUrl!)
        const secretKey = testSecretKey()
        const kind = round % 2 === 0 ? 'migrations' : 'projects'
        // Every other pair of rounds also seeds the demo history, the longest part of the seed.
        const demoData = Math.floor(round / 2) % 2 === 1 ? 'on' : 'off'
        try {
          if (kind === 'projects')
            await (await openDatabase({ url: database.url, poolSize: 1 })).close()
          const gated = await gate(database.url, kind, PROCESSES)
          running = Array.from({ length: PROCESSES }, () =>
            spawnServer({
              DATABASE_URL: database.url,
              SECRET_KEY: secretKey,
              PORT: '0',
              HOST: '127.0.0.1',
              SANDBOX: 'off',
              DEMO_DATA: demoData,
              RECONCILE_INTERVAL_SECONDS: '0',
              LOG_LEVEL: 'warn',
            }),
          )
          const waited = await gated.open()
          if (waited < PROCESSES)
            failures.push(`round ${round}: only ${waited} processes reached the database together`)
          const outcomes = await Promise.allSettled(running.map((p) => p.up))
          for (const [i, outcome] of outcomes.entries()) {
            if (outcome.status === 'rejected') {
              failures.push(`round ${round}, process ${i}: ${String(outcome.reason).slice(0, 600)}`)
              continue
            }
            const health = await fetch(`${outcome.value}/healthz`)
            if (health.status !== 200)
              failures.push(`round ${round}, process ${i}: /healthz ${health.status}`)
          }
          const firstStarts = running.filter((p) => p.stdout().includes('First start:')).length
          const seeded: Record<string, number> = {}
          try {
            for (const [what, query] of Object.entries(COUNTS))
              seeded[what] = await count(database.url, query)
          } catch (error) {
            failures.push(`round ${round}: cannot count the seed (${String(error).split('\n')[0]})`)
          }
          const expected = { projects: 1, operators: 1, members: 1, quotas: 3 }
          for (const [what, n] of Object.entries(expected))
            if (seeded[what] !== n)
              failures.push(`round ${round}: ${seeded[what]} ${what}, not ${n}`)
          if (firstStarts !== 1)
            failures.push(`round ${round}: ${firstStarts} processes reported a first start`)
          // The demo history: 8 customers with 1–3 purchases each (see demo-data.ts), once.
          if (demoData === 'on' && seeded.payments !== 15)
            failures.push(`round ${round}: ${seeded.payments} demo payments, not 15`)
        } finally {
          await Promise.all(running.map((p) => p.stop()))
          running = []
          await database.drop()
        }
      }
      expect(failures).toEqual([])
    },
    rounds * 90_000,
  )
})

describe('the first-start seed without the lock', () => {
  it('three seeds at once on one empty database make one demo project and one owner', async () => {
    // A database handed in (a test's, or a replica of an older version) has no first-start lock:
    // the seed's own transaction must still let only one of them create the demo.
    const database = await createTestDatabase()
    try {
      const env = parseEnv({ PORT: '0' })
      const secrets = createSecrets(generateSecretKey())
      const starts = await Promise.all(
        [1, 2, 3].map(() => openFirstStart(env, { database, secrets, demoData: false })),
      )
      expect(starts.filter((s) => s.demoProjectId !== null)).toHaveLength(1)
      expect(starts.filter((s) => s.demoOperator !== null)).toHaveLength(1)
      const [counts] = await rows<{ projects: number; operators: number; quotas: number }>(
        database.db,
        sql`select (select count(*) from projects)::int as projects,
                   (select count(*) from operators)::int as operators,
                   (select count(*) from quotas)::int as quotas`,
      )
      expect(counts).toMatchObject({ projects: 1, operators: 1, quotas: 3 })
    } finally {
      await database.close()
    }
  })
})
