import { randomUUID } from 'node:crypto'
import { createEStarsClient, isInsufficientCredits } from '@e-stars/api/client'
import { createApiKey, listProjects } from '@e-stars/billing'
import { createTestDatabase } from '@e-stars/db/testing'
import type { TRPCClientError } from '@trpc/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const silent = { info() {}, warn() {}, error() {} }
let server: RunningServer
let apiKey: string

beforeAll(async () => {
  const database = await createTestDatabase()
  server = await startServer(parseEnv({ PORT: '0' }), silent, { database })
  const [project] = await listProjects(database.db)
  apiKey = (await createApiKey(database.db, { projectId: project!.id, name: 'e2e' })).key
})
afterAll(() => server?.close())

describe('the HTTP server with the typed client', () => {
  it('serves health with the database kind', async () => {
    const response = await fetch(`${server.url}/healthz`)
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ ok: true })
  })

  it('creates the demo project on a first start', () => {
    expect(server.demoProjectId).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('grants, consumes, reserves and settles end to end', async () => {
    const client = createEStarsClient({ url: server.url, apiKey })
    await client.customers.upsert.mutate({ telegramUserId: 5_000_000_001, username: 'bob' })
    await client.credits.grant.mutate({
      telegramUserId: 5_000_000_001,
      amount: 500,
      reason: 'Pack M',
      idempotencyKey: randomUUID(),
    })
    const consumed = await client.usage.consume.mutate({
      telegramUserId: 5_000_000_001,
      amount: 120,
      reason: 'AI answer',
      idempotencyKey: randomUUID(),
      metadata: { tokens: 12_000 },
    })
    expect(consumed).toMatchObject({ consumed: 120, available: 380 })
    const hold = await client.usage.reserve.mutate({
      telegramUserId: 5_000_000_001,
      amount: 100,
      reason: 'AI answer',
      idempotencyKey: randomUUID(),
    })
    expect(typeof hold.expiresAt).toBe('string')
    const settled = await client.usage.settle.mutate({
      holdId: hold.holdId,
      amount: 64,
      idempotencyKey: randomUUID(),
    })
    expect(settled).toMatchObject({ charged: 64, returned: 36, available: 316 })
    const balance = await client.credits.balance.query({ telegramUserId: 5_000_000_001 })
    expect(balance).toMatchObject({ available: 316, held: 0, debt: 0 })
    const ledger = await client.ledger.list.query({ telegramUserId: 5_000_000_001, limit: 2 })
    expect(ledger.entries.map((e) => e.kind)).toEqual(['settle', 'hold'])
  })

  it('reports insufficient credits with the facts, over HTTP', async () => {
    const client = createEStarsClient({ url: server.url, apiKey })
    await client.credits.grant.mutate({
      telegramUserId: 9,
      amount: 3,
      reason: 'x',
      idempotencyKey: randomUUID(),
    })
    const error = await client.usage.consume
      .mutate({ telegramUserId: 9, amount: 4, reason: 'x', idempotencyKey: randomUUID() })
      .catch((e: unknown) => e)
    expect(isInsufficientCredits(error)).toBe(true)
    expect((error as TRPCClientError<never>).data).toMatchObject({
      code: 'PRECONDITION_FAILED',
      httpStatus: 412,
      billing: { code: 'INSUFFICIENT_CREDITS', available: 3, required: 4 },
    })
  })

  it('rejects a bad key with 401 and bad input with 400 naming the field', async () => {
    const bad = createEStarsClient({ url: server.url, apiKey: 'esk_wrong' })
    const unauthorized = await bad.credits.balance
      .query({ telegramUserId: 1 })
      .catch((e: unknown) => e)
    expect((unauthorized as TRPCClientError<never>).data).toMatchObject({ httpStatus: 401 })
    const client = createEStarsClient({ url: server.url, apiKey })
    const invalid = await client.usage.consume
      .mutate({ telegramUserId: 1, amount: -5, reason: 'x', idempotencyKey: 'k' })
      .catch((e: unknown) => e)
    const data = (invalid as TRPCClientError<never>).data as unknown as {
      httpStatus: number
      zodError: { fieldErrors: object }
    }
    expect(data.httpStatus).toBe(400)
    expect(Object.keys(data.zodError.fieldErrors)).toEqual(['amount'])
  })
})

describe('configuration', () => {
  it('names the bad variable', () => {
    expect(() => parseEnv({ PORT: 'abc' })).toThrow(/PORT/)
    expect(() => parseEnv({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/)
    expect(parseEnv({}).PORT).toBe(3000)
  })
})
