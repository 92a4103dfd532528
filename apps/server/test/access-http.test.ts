import { randomUUID } from 'node:crypto'
import { billingErrorOf, createEStarsClient, isQuotaExceeded } from '@e-stars/api/client'
import {
  createApiKey,
  createProject,
  listFeatures,
  listQuotas,
  seedDemoFeatures,
} from '@e-stars/billing'
import { createTestDatabase } from '@e-stars/db/testing'
import { TRPCClientError } from '@trpc/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const silent = { info() {}, warn() {}, error() {} }
let server: RunningServer
let client: ReturnType<typeof createEStarsClient>

beforeAll(async () => {
  const database = await createTestDatabase()
  server = await startServer(parseEnv({ PORT: '0' }), silent, { database })
  const project = await createProject(database.db, { name: 'features over HTTP' })
  await seedDemoFeatures(database.db, project.id)
  const apiKey = (await createApiKey(database.db, { projectId: project.id, name: 'e2e' })).key
  client = createEStarsClient({ url: server.url, apiKey })
})
afterAll(() => server?.close())

describe('features, quotas and events over HTTP with the typed client', () => {
  it('seeds the demo project with the demo features and quotas', async () => {
    const projectId = server.demoProjectId!
    const features = await listFeatures(server.database.db, { projectId })
    expect(features.map((f) => [f.key, f.kind, f.credits, f.perUnits])).toEqual([
      ['ai.tokens', 'metered', 1, 100],
      ['image', 'metered', 20, 1],
      ['pro', 'gated', 0, 1],
      // The reference Mini App's metered action, consumable by the Mini App itself.
      ['wallpaper', 'metered', 10, 1],
    ])
    const quotas = await listQuotas(server.database.db, { projectId })
    expect(quotas.map((q) => [q.featureKey, q.scope, q.productKey, q.limit, q.free])).toEqual([
      ['ai.tokens', 'project', null, 5_000, true],
      ['image', 'product', 'plus', 200, false],
      ['image', 'project', null, 10, false],
    ])
  })

  it('answers access.check, consumes by feature and reports a full quota with its facts', async () => {
    const user = 6_000_000_001
    expect(
      await client.access.check.query({ telegramUserId: user, feature: 'image' }),
    ).toMatchObject({
      allowed: false,
      reason: 'insufficient_credits',
      costCredits: 20,
      quota: { used: 0, limit: 10 },
    })
    await client.credits.grant.mutate({
      telegramUserId: user,
      amount: 500,
      reason: 'Pack',
      idempotencyKey: randomUUID(),
    })
    const used = await client.usage.consumeFeature.mutate({
      telegramUserId: user,
      feature: 'image',
      quantity: 10,
      idempotencyKey: randomUUID(),
    })
    expect(used).toMatchObject({ credits: 200, available: 300, quota: { used: 10, remaining: 0 } })
    const error = await client.usage.consumeFeature
      .mutate({ telegramUserId: user, feature: 'image', quantity: 1, idempotencyKey: randomUUID() })
      .then(
        () => null,
        (e: unknown) => e,
      )
    expect(error).toBeInstanceOf(TRPCClientError)
    expect((error as TRPCClientError<never>).data).toMatchObject({
      code: 'PRECONDITION_FAILED',
      httpStatus: 412,
    })
    expect(isQuotaExceeded(error)).toBe(true)
    const facts = billingErrorOf(error)!
    expect(facts).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      feature: 'image',
      limit: 10,
      used: 10,
      requested: 1,
    })
    expect(new Date(facts.resetsAt as string).getTime()).toBeGreaterThan(Date.now())
    const { events, cursor } = await client.events.poll.query({ limit: 50 })
    expect(events.map((e) => [e.type, e.telegramUserId])).toEqual([['quota.exhausted', user]])
    expect(await client.events.poll.query({ cursor })).toEqual({ events: [], cursor })
  })

  it('a gated feature without entitlement is FORBIDDEN; the entitlement list is empty', async () => {
    const user = 6_000_000_002
    await client.customers.upsert.mutate({ telegramUserId: user })
    expect((await client.access.check.query({ telegramUserId: user, feature: 'pro' })).reason).toBe(
      'no_entitlement',
    )
    const error = await client.usage.consumeFeature
      .mutate({ telegramUserId: user, feature: 'pro', quantity: 1, idempotencyKey: randomUUID() })
      .then(
        () => null,
        (e: unknown) => e,
      )
    expect(billingErrorOf(error)).toMatchObject({ code: 'NO_ENTITLEMENT', feature: 'pro' })
    expect(await client.entitlements.list.query({ telegramUserId: user })).toEqual({
      entitlements: [],
      access: [],
    })
  })
})
