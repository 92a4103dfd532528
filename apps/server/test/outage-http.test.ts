import { randomUUID } from 'node:crypto'
import { createApiKey, listProjects, setRelaySettings } from '@e-stars/billing'
import type { Database } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_BATCH_SIZE, MAX_BODY_BYTES } from '../src/app.ts'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

/**
 * The HTTP edges of defects 6 and 10 that need no PostgreSQL of their own: request size limits,
 * and what every entry point answers once the database is gone (here: closed under the running
 * server; apps/server/test/outage.test.ts stops a real PostgreSQL under load).
 */
const silent = { info() {}, warn() {}, error() {} }
let database: Database
let server: RunningServer
let apiKey: string
let projectId: string
let webhookSecret: string

beforeAll(async () => {
  database = await createTestDatabase()
  server = await startServer(parseEnv({ PORT: '0', RECONCILE_INTERVAL_SECONDS: '0' }), silent, {
    database,
  })
  const [project] = await listProjects(database.db)
  projectId = project!.id
  apiKey = (await createApiKey(database.db, { projectId, name: 'limits' })).key
  webhookSecret = (await setRelaySettings(database.db, { projectId, relayTarget: null }))
    .webhookSecret
}, 60_000)
afterAll(async () => {
  await server?.close().catch(() => {})
})

const consume = (telegramUserId: number) => ({
  telegramUserId,
  amount: 1,
  reason: 'limits',
  idempotencyKey: randomUUID(),
})

function post(path: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}`, ...headers },
    body,
  })
}

interface TrpcError {
  error: { message: string; data: { code: string; httpStatus: number } }
}

describe('request size limits', () => {
  it('a body over the limit answers 413 PAYLOAD_TOO_LARGE as JSON, unparsed', async () => {
    const body = JSON.stringify({ ...consume(1), reason: 'x'.repeat(3 * 1024 * 1024) })
    const response = await post('/trpc/usage.consume', body)
    expect(response.status).toBe(413)
    const answer = (await response.json()) as TrpcError
    expect(answer.error.data).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', httpStatus: 413 })
    expect(answer.error.message).toMatch(/too large/i)
  })

  it('a body just under the limit is read and validated (400 for the long reason)', async () => {
    const filler = MAX_BODY_BYTES - 1000
    const body = JSON.stringify({ ...consume(1), reason: 'x'.repeat(filler) })
    const response = await post('/trpc/usage.consume', body)
    expect(response.status).toBe(400)
    expect(((await response.json()) as TrpcError).error.data.code).toBe('BAD_REQUEST')
  })

  it(`a batch of more than ${MAX_BATCH_SIZE} calls answers 400 BAD_REQUEST`, async () => {
    const calls = MAX_BATCH_SIZE + 1
    const paths = Array.from({ length: calls }, () => 'usage.consume').join(',')
    const inputs = Object.fromEntries(Array.from({ length: calls }, (_, i) => [i, consume(1)]))
    const response = await post(`/trpc/${paths}?batch=1`, JSON.stringify(inputs))
    expect(response.status).toBe(400)
    const answer = (await response.json()) as TrpcError | TrpcError[]
    const first = Array.isArray(answer) ? answer[0]! : answer
    expect(first.error.data.code).toBe('BAD_REQUEST')
  })

  it('a relay update over 1 MB answers 413 JSON; malformed JSON answers 400 JSON', async () => {
    const headers = { 'x-telegram-bot-api-secret-token': webhookSecret }
    const big = JSON.stringify({ update_id: 1, message: { text: 'x'.repeat(2 * 1024 * 1024) } })
    const tooLarge = await post(`/telegram/${projectId}`, big, headers)
    expect(tooLarge.status).toBe(413)
    expect(await tooLarge.json()).toMatchObject({ ok: false, error_code: 413 })
    const malformed = await post(`/telegram/${projectId}`, '{"update_id": 1,', headers)
    expect(malformed.status).toBe(400)
    expect(malformed.headers.get('content-type')).toMatch(/json/)
  })
})

describe('with the database gone', () => {
  beforeAll(async () => {
    // Warm the API key cache first: the procedure itself must meet the closed database.
    const warm = await post('/trpc/usage.consume', JSON.stringify(consume(7)))
    expect(warm.status).toBeLessThan(500)
    await database.close()
  })

  it('a procedure answers 503 SERVICE_UNAVAILABLE with Retry-After', async () => {
    const response = await post('/trpc/usage.consume', JSON.stringify(consume(7)))
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/)
    const answer = (await response.json()) as TrpcError
    expect(answer.error.data.code).toBe('SERVICE_UNAVAILABLE')
    expect(answer.error.message).toMatch(/retry/i)
  })

  it('an unknown API key (no cached answer) answers 503 too, not 401 or 500', async () => {
    const response = await post('/trpc/usage.consume', JSON.stringify(consume(7)), {
      authorization: 'Bearer esk_not_cached_anywhere_000000',
    })
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/)
  })

  it('/readyz answers 503 with Retry-After; /healthz (alive) still answers 200', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
    const response = await fetch(`${server.url}/readyz`)
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(await response.json()).toMatchObject({ ok: false })
  })

  it('the relay answers 503 (non-2xx: Telegram redelivers)', async () => {
    const response = await post(
      `/telegram/${projectId}`,
      JSON.stringify({ update_id: 42, message: { text: 'hi' } }),
      { 'x-telegram-bot-api-secret-token': webhookSecret },
    )
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/)
  })
})
