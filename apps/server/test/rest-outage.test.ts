import { randomUUID } from 'node:crypto'
import { createApiKey, listProjects } from '@e-stars/billing'
import type { Database } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

/** REST with the database closed under the running server, as outage-http.test.ts does for /trpc. */
const silent = { info() {}, warn() {}, error() {} }
let database: Database
let server: RunningServer
let apiKey: string

beforeAll(async () => {
  database = await createTestDatabase()
  server = await startServer(parseEnv({ PORT: '0', RECONCILE_INTERVAL_SECONDS: '0' }), silent, {
    database,
  })
  const [project] = await listProjects(database.db)
  apiKey = (await createApiKey(database.db, { projectId: project!.id, name: 'rest outage' })).key
}, 60_000)
afterAll(async () => {
  await server?.close().catch(() => {})
})

const consume = (key = apiKey) =>
  fetch(`${server.url}/api/v1/usage/consume`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({
      telegramUserId: 7,
      amount: 1,
      reason: 'outage',
      idempotencyKey: randomUUID(),
    }),
  })

describe('REST with the database gone', () => {
  beforeAll(async () => {
    // Warm the REST key cache first: the procedure itself must meet the closed database.
    expect((await consume()).status).toBeLessThan(500)
    await database.close()
  })

  it('answers 503 problem+json SERVICE_UNAVAILABLE with Retry-After, for a cached and an unknown key', async () => {
    for (const key of [apiKey, 'esk_not_cached_anywhere_000000']) {
      const response = await consume(key)
      expect(response.status).toBe(503)
      expect(response.headers.get('retry-after')).toMatch(/^\d+$/)
      expect(response.headers.get('content-type')).toContain('application/problem+json')
      const problem = (await response.json()) as Record<string, unknown>
      expect(problem).toMatchObject({
        status: 503,
        code: 'SERVICE_UNAVAILABLE',
        title: 'Service unavailable',
      })
      expect(String(problem.detail)).toMatch(/retry/i)
      expect(JSON.stringify(problem)).not.toMatch(/stack|\.ts:\d+/)
    }
  })
})
