/**
 * Defect 5: three server processes started at once on an empty PostgreSQL database. Each round
 * gets a fresh database; all three must come up healthy, and the first-start seed must exist
 * exactly once. `FIRST_START_ROUNDS` raises the number of rounds for a soak.
 */
import { sql } from 'drizzle-orm'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createEmptyDatabase,
  type ServerProcess,
  spawnServer,
  testSecretKey,
  withConnection,
} from './spawn-server.ts'

const baseUrl = process.env.TEST_DATABASE_URL
const rounds = Number(process.env.FIRST_START_ROUNDS ?? 6)
const PROCESSES = 3

if (!baseUrl) {
  if (process.env.CI) throw new Error('first-start.test.ts needs TEST_DATABASE_URL under CI')
  console.warn('first-start.test.ts skipped: set TEST_DATABASE_URL to a PostgreSQL database')
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
        // Every other round also seeds the demo history, the longest part of the seed.
        const demoData = round % 2 === 1 ? 'on' : 'off'
        try {
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
