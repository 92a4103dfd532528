/**
 * The database pool's metrics (docs/deploy.md, "What to monitor"): connections in use, calls
 * waiting for one, and call latency, counted where this replica's calls leave for the pool.
 */
import type { Database } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMetrics, poolStatsOf } from '../src/metrics.ts'

const POOL = 2
let database: Database

beforeAll(async () => {
  database = await createTestDatabase({ poolSize: POOL })
})
afterAll(() => database.close())

/** The value of one unlabelled sample (or the labelled one matching `labels`) in the text. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `) && !l.startsWith('#'))
  return line === undefined ? undefined : Number(line.split(' ').at(-1))
}

describe('database pool metrics', () => {
  it('count calls in flight while they run, and none once they finish', async () => {
    const metrics = createMetrics(database.db)
    const stats = poolStatsOf(database.db)
    const size = database.kind === 'postgres' ? POOL : 1
    expect(stats.size).toBe(size)
    const calls = size + 3
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    // Transactions that hold their connection until the gate opens: `size` run, the rest wait.
    const running = Array.from({ length: calls }, () =>
      database.db.transaction(async (tx) => {
        await tx.execute(sql`select 1`)
        await gate
      }),
    )
    await new Promise((resolve) => setTimeout(resolve, 50))
    const during = (await metrics.text()).body
    release()
    await Promise.all(running)
    expect(sample(during, 'estars_db_pool_size')).toBe(size)
    expect(sample(during, 'estars_db_pool_connections_in_use')).toBe(size)
    // The scrape's own database snapshot queues behind the held connections as well.
    expect(sample(during, 'estars_db_pool_waiting')).toBe(calls - size + 1)
    const after = (await metrics.text()).body
    expect(sample(after, 'estars_db_pool_connections_in_use')).toBe(0)
    expect(sample(after, 'estars_db_pool_waiting')).toBe(0)
    expect(
      sample(after, 'estars_db_query_duration_seconds_count', 'kind="transaction",outcome="ok"'),
    ).toBeGreaterThanOrEqual(calls)
  })

  it('times statements outside a transaction and counts failed ones as errors', async () => {
    const metrics = createMetrics(database.db)
    const count = async (outcome: string) =>
      sample(
        (await metrics.text()).body,
        'estars_db_query_duration_seconds_count',
        `kind="statement",outcome="${outcome}"`,
      ) ?? 0
    const ok = await count('ok')
    const failed = await count('error')
    await database.db.execute(sql`select 1`)
    await expect(database.db.execute(sql`select * from no_such_table`)).rejects.toThrow()
    // The scrape's own snapshot statements count too: at least ours moved each series.
    expect(await count('ok')).toBeGreaterThan(ok)
    expect(await count('error')).toBe(failed + 1)
  })
})
