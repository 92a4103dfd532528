import { randomUUID } from 'node:crypto'
import { createApiKey, listProjects } from '@e-stars/billing'
import { createTestDatabase } from '@e-stars/db/testing'
import { parseEnv, type RunningServer, startServer } from '@e-stars/server'
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import {
  type Balance,
  type BillingErrorFacts,
  billingErrorOf,
  type ConsumeResult,
  createEStarsClient,
  type EStarsClient,
  isInsufficientCredits,
  isQuotaExceeded,
  type RouterOutputs,
} from '../src/index.ts'

const silent = { info() {}, warn() {}, error() {} }
const USER = 7_000_000_001
let server: RunningServer
let client: EStarsClient

beforeAll(async () => {
  const database = await createTestDatabase()
  server = await startServer(parseEnv({ PORT: '0', LOG_LEVEL: 'silent' }), silent, { database })
  const [project] = await listProjects(database.db)
  const { key } = await createApiKey(database.db, { projectId: project!.id, name: 'client' })
  client = createEStarsClient({ url: `${server.url}/`, apiKey: key })
})
afterAll(() => server?.close())

describe('@e-stars/client against a live server', () => {
  it('types results with the named interfaces it exports', async () => {
    await client.credits.grant.mutate({
      telegramUserId: USER,
      amount: 50,
      reason: 'welcome',
      idempotencyKey: randomUUID(),
    })
    const balance = await client.credits.balance.query({ telegramUserId: USER })
    expectTypeOf(balance).toEqualTypeOf<Balance>()
    expectTypeOf<RouterOutputs['usage']['consume']>().toEqualTypeOf<ConsumeResult>()
    expect(balance).toMatchObject({ available: 50, held: 0, debt: 0 })
  })

  it('reads an overspend as INSUFFICIENT_CREDITS with the facts, and writes nothing', async () => {
    const error = await client.usage.consume
      .mutate({
        telegramUserId: USER,
        amount: 51,
        reason: 'too much',
        idempotencyKey: randomUUID(),
      })
      .catch((e: unknown) => e)
    expect(isInsufficientCredits(error)).toBe(true)
    expect(isQuotaExceeded(error)).toBe(false)
    if (!isInsufficientCredits(error)) throw error
    expect(error.data.billing).toMatchObject({ available: 50, required: 51 })
    expectTypeOf(error.data.billing.available).toEqualTypeOf<number>()
    expect(await client.credits.balance.query({ telegramUserId: USER })).toMatchObject({
      available: 50,
    })
  })

  it('puts the flattened input errors on BAD_REQUEST, with no domain facts', async () => {
    const error = await client.credits.grant
      .mutate({ telegramUserId: USER, amount: -1, reason: '', idempotencyKey: randomUUID() })
      .catch((e: unknown) => e)
    expect(billingErrorOf(error)).toBeNull()
    expect(error).toMatchObject({ data: { code: 'BAD_REQUEST', billing: null } })
    const fields = (error as { data: { zodError: { fieldErrors: Record<string, unknown> } } }).data
      .zodError.fieldErrors
    expect(Object.keys(fields)).toEqual(expect.arrayContaining(['amount', 'reason']))
  })

  it('answers anything that is not an e-Stars refusal with null', () => {
    expect(billingErrorOf(new Error('network'))).toBeNull()
    expect(billingErrorOf('nope')).toBeNull()
    expectTypeOf(billingErrorOf).returns.toEqualTypeOf<BillingErrorFacts | null>()
  })
})
