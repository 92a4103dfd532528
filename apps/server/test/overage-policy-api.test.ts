import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEStarsClient, type EStarsClient } from '@e-stars/api/client'
import { generateSecretKey, listLedger, seedDemoFeatures } from '@e-stars/billing'
import { createTestDatabase } from '@e-stars/db/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

/**
 * Issue 19, 2, through the API as an operator and a bot use it: the project's overage policy,
 * set with the console's `operator.settings.update`, decides what a settle past its hold does —
 * `cap` and `absorb` record the unpaid part as the operator's loss, `debt` makes it owed.
 */
const silent = { info() {}, warn() {}, error() {} }
let server: RunningServer
let database: Awaited<ReturnType<typeof createTestDatabase>>
let bot: EStarsClient
let operator: { cookie: string; csrf: string }
let projectId: string
let nextUserId = 4_100_000

async function trpc(path: string, body?: unknown) {
  const response = await fetch(`${server.url}/trpc/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      'content-type': 'application/json',
      ...(operator ? { cookie: operator.cookie, 'x-csrf-token': operator.csrf } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const json = (await response.json()) as { result?: { data: unknown }; error?: unknown }
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${JSON.stringify(json)}`)
  return json.result!.data
}

beforeAll(async () => {
  database = await createTestDatabase()
  server = await startServer(
    parseEnv({
      PORT: '0',
      SECRET_KEY: generateSecretKey(),
      DEMO_DATA: 'off',
      RECONCILE_INTERVAL_SECONDS: '0',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'estars-overage-api-')),
    }),
    silent,
    { database },
  )
  projectId = server.demoProjectId!
  await seedDemoFeatures(database.db, projectId)
  const login = await fetch(`${server.url}/trpc/operator.auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(server.demoOperator),
  })
  const session = (await login.json()) as { result: { data: { csrfToken: string } } }
  operator = {
    cookie: login.headers.get('set-cookie')!.split(';')[0]!,
    csrf: session.result.data.csrfToken,
  }
  const { key } = (await trpc('operator.apiKeys.create', { projectId, name: 'overage test' })) as {
    key: string
  }
  bot = createEStarsClient({ url: server.url, apiKey: key })
}, 120_000)

afterAll(async () => {
  await server?.close()
})

/** A customer with today's free tokens spent and 3 credits: a 300-token hold is all they pay. */
async function customerWithThreeCredits() {
  const telegramUserId = nextUserId++
  await bot.usage.consumeFeature.mutate({
    telegramUserId,
    feature: 'ai.tokens',
    quantity: 5000,
    idempotencyKey: randomUUID(),
  })
  await bot.credits.grant.mutate({
    telegramUserId,
    amount: 3,
    reason: 'funds',
    source: 'promo',
    idempotencyKey: randomUUID(),
  })
  return telegramUserId
}

/** Reserves 300 tokens (3 credits) and settles 6,050: 61 credits of work, 58 past the hold. */
async function overrun(telegramUserId: number) {
  const reservation = await bot.usage.reserveFeature.mutate({
    telegramUserId,
    feature: 'ai.tokens',
    quantity: 300,
    idempotencyKey: randomUUID(),
  })
  return bot.usage.settleFeature.mutate({
    reservationId: reservation.reservationId,
    quantity: 6050,
    idempotencyKey: randomUUID(),
  })
}

const shortfallEntries = async (telegramUserId: number) =>
  (await listLedger(database.db, { projectId, telegramUserId, limit: 50 })).entries.filter(
    (e) => e.kind === 'shortfall',
  )

describe('the overage policy, set through the operator settings procedure', () => {
  it.each([
    ['cap', { debt: 0, absorbed: 58 }],
    ['debt', { debt: 58, absorbed: 0 }],
    ['absorb', { debt: 0, absorbed: 58 }],
  ] as const)('%s: the settle past the hold follows it', async (policy, expected) => {
    await trpc('operator.settings.update', { projectId, overagePolicy: policy })
    const settings = (await trpc(
      `operator.settings.get?input=${encodeURIComponent(JSON.stringify({ projectId }))}`,
    )) as { overagePolicy: string }
    expect(settings.overagePolicy).toBe(policy)

    const telegramUserId = await customerWithThreeCredits()
    const settled = await overrun(telegramUserId)
    expect(settled).toMatchObject({ charged: 3, shortfall: 58 })
    expect(settled.overage).toMatchObject({ policy, credits: 58, ...expected })
    expect(settled).toMatchObject({ available: 0, debt: expected.debt })
    expect(await bot.credits.balance.query({ telegramUserId })).toMatchObject({
      available: 0,
      held: 0,
      debt: expected.debt,
    })
    // Never invisible: one shortfall entry in the ledger, under this policy.
    const entries = await shortfallEntries(telegramUserId)
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ debtChange: expected.debt })
    expect(entries[0]?.metadata).toMatchObject({ policy })
  })

  it('an unknown policy is refused with a 400, not stored', async () => {
    await expect(
      trpc('operator.settings.update', { projectId, overagePolicy: 'forgive' }),
    ).rejects.toThrow(/HTTP 400/)
    const settings = (await trpc(
      `operator.settings.get?input=${encodeURIComponent(JSON.stringify({ projectId }))}`,
    )) as { overagePolicy: string }
    expect(settings.overagePolicy).toBe('absorb')
  })
})
