import type { AddressInfo } from 'node:net'
import type { Database } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { sql } from 'drizzle-orm'
import { afterEach, describe, expect, it } from 'vitest'
import { createApp, type Lifecycle } from '../src/app.ts'
import { parseEnv } from '../src/env.ts'
import { startServer } from '../src/server.ts'

const silent = { info() {}, warn() {}, error() {} }
const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step()
})

/** An app on loopback over `database`, with a lifecycle the test flips. */
async function serve(database: Database, lifecycle: Lifecycle) {
  const app = createApp({ db: database.db, database, logger: silent, lifecycle })
  const listening = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => listening.once('listening', resolve))
  cleanups.push(() => listening.close())
  const url = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`
  const get = async (path: string) => {
    const response = await fetch(`${url}${path}`)
    const body = (await response.json()) as { ok: boolean; checks: Record<string, boolean> }
    return { status: response.status, headers: response.headers, body }
  }
  return { get }
}

describe('/healthz and /readyz', () => {
  it('a started server is alive and ready: database, migrations, jobs, accepting', async () => {
    const server = await startServer(parseEnv({ PORT: '0' }), silent, {
      database: await createTestDatabase(),
    })
    cleanups.push(() => server.close())
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
    const ready = await fetch(`${server.url}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({
      ok: true,
      database: server.database.kind,
      checks: { accepting: true, database: true, migrations: true, jobs: true },
    })
  })

  it('/readyz answers 503 while draining and while jobs are not running; /healthz stays 200', async () => {
    const database = await createTestDatabase()
    cleanups.push(() => database.close())
    const lifecycle: Lifecycle = { draining: false, jobsRunning: true }
    const { get } = await serve(database, lifecycle)
    expect((await get('/readyz')).status).toBe(200)
    lifecycle.draining = true
    const draining = await get('/readyz')
    expect(draining.status).toBe(503)
    expect(draining.body.checks).toMatchObject({ accepting: false, database: true })
    // A draining replica asks keep-alive clients to go elsewhere.
    expect(draining.headers.get('connection')).toBe('close')
    expect((await get('/healthz')).status).toBe(200)
    lifecycle.draining = false
    lifecycle.jobsRunning = false
    const noJobs = await get('/readyz')
    expect(noJobs.status).toBe(503)
    expect(noJobs.body.checks).toMatchObject({ accepting: true, jobs: false })
  })

  it('/readyz answers 503 with Retry-After when the database is down; /healthz does not ask it', async () => {
    const database = await createTestDatabase()
    const { get } = await serve(database, { draining: false, jobsRunning: true })
    expect((await get('/readyz')).status).toBe(200)
    await database.close()
    const down = await get('/readyz')
    expect(down.status).toBe(503)
    expect(down.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(down.body).toMatchObject({ ok: false, checks: { database: false } })
    expect(await get('/healthz')).toMatchObject({ status: 200, body: { ok: true } })
  })

  it('/readyz answers 503 when a migration this build ships is not applied', async () => {
    const database = await createTestDatabase()
    cleanups.push(() => database.close())
    const { get } = await serve(database, { draining: false, jobsRunning: true })
    await database.db.execute(
      sql`delete from drizzle.__drizzle_migrations
          where id = (select max(id) from drizzle.__drizzle_migrations)`,
    )
    const behind = await get('/readyz')
    expect(behind.status).toBe(503)
    expect(behind.body.checks).toMatchObject({ database: true, migrations: false })
  })
})
