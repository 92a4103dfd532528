import { randomUUID } from 'node:crypto'
import {
  blockCustomer,
  configureAccess,
  grantEntitlementByOperator,
  QuotaExceeded,
  seedDemoFeatures,
} from '@e-stars/billing'
import { TRPCError } from '@trpc/server'
import { describe, expect, it } from 'vitest'
import { anonymousCaller, botCaller, useDatabase } from './fixtures.ts'

const t = useDatabase()
const k = () => randomUUID()

async function errorOf(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TRPCError)
  return error as TRPCError
}

async function demoBot() {
  const bot = await botCaller(t.db)
  await seedDemoFeatures(t.db, bot.project.id)
  return bot
}

describe('features, access, usage by feature, entitlements and events over tRPC', () => {
  it('features and quotas are listed for the bot', async () => {
    const { caller } = await demoBot()
    expect(
      (await caller.features.list()).map((f) => [f.key, f.kind, f.credits, f.perUnits]),
    ).toEqual([
      ['ai.tokens', 'metered', 1, 100],
      ['image', 'metered', 20, 1],
      ['pro', 'gated', 0, 1],
    ])
    expect(
      (await caller.features.quotas({ featureKey: 'image' })).map((q) => [
        q.scope,
        q.productKey,
        q.limit,
      ]),
    ).toEqual([
      ['product', 'plus', 200],
      ['project', null, 10],
    ])
  })

  it('check, then consume by feature: free allowance, then credits, then PRECONDITION_FAILED', async () => {
    const { caller } = await demoBot()
    expect(
      await caller.access.check({ telegramUserId: 9, feature: 'ai.tokens', quantity: 5_000 }),
    ).toMatchObject({
      allowed: true,
      reason: 'ok',
      costCredits: 0,
      freeQuantity: 5_000,
      available: 0,
      quota: null,
      entitlement: null,
    })
    expect(
      await caller.usage.consumeFeature({
        telegramUserId: 9,
        feature: 'ai.tokens',
        quantity: 5_000,
        idempotencyKey: k(),
      }),
    ).toMatchObject({ freeQuantity: 5_000, credits: 0 })
    await caller.credits.grant({
      telegramUserId: 9,
      amount: 45,
      reason: 'pack',
      idempotencyKey: k(),
    })
    expect(
      await caller.usage.consumeFeature({
        telegramUserId: 9,
        feature: 'ai.tokens',
        quantity: 250,
        idempotencyKey: k(),
      }),
    ).toMatchObject({ freeQuantity: 0, credits: 3, available: 42 })
    expect(
      await caller.access.check({ telegramUserId: 9, feature: 'image', quantity: 3 }),
    ).toMatchObject({
      allowed: false,
      reason: 'insufficient_credits',
      costCredits: 60,
      available: 42,
      quota: { used: 0, limit: 10, remaining: 10 },
    })
    const error = await errorOf(
      caller.usage.consumeFeature({
        telegramUserId: 9,
        feature: 'ai.tokens',
        quantity: 4_300,
        idempotencyKey: k(),
      }),
    )
    expect(error.code).toBe('PRECONDITION_FAILED')
    expect(error.cause).toMatchObject({ code: 'INSUFFICIENT_CREDITS', available: 42, required: 43 })
    expect(
      typeof (error.cause as unknown as { freeAllowanceResetsAt: string }).freeAllowanceResetsAt,
    ).toBe('string')
  })

  it('an exhausted quota is PRECONDITION_FAILED with resetsAt, limit and used, and an event', async () => {
    const { caller, project } = await demoBot()
    await caller.credits.grant({
      telegramUserId: 3,
      amount: 1_000,
      reason: 'pack',
      idempotencyKey: k(),
    })
    await caller.usage.consumeFeature({
      telegramUserId: 3,
      feature: 'image',
      quantity: 10,
      idempotencyKey: k(),
    })
    const error = await errorOf(
      caller.usage.consumeFeature({
        telegramUserId: 3,
        feature: 'image',
        quantity: 1,
        idempotencyKey: k(),
      }),
    )
    expect(error.code).toBe('PRECONDITION_FAILED')
    expect(error.cause).toBeInstanceOf(QuotaExceeded)
    expect(error.cause).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      feature: 'image',
      limit: 10,
      used: 10,
      requested: 1,
    })
    const resetsAt = (error.cause as QuotaExceeded).resetsAt!
    expect(new Date(resetsAt).getTime()).toBeGreaterThan(Date.now())
    const { events } = await caller.events.poll()
    expect(events.map((e) => [e.type, e.telegramUserId, e.payload.feature])).toEqual([
      ['quota.exhausted', 3, 'image'],
    ])
    expect(project.id).toBeTruthy()
  })

  it('reserve and settle by feature through the router', async () => {
    const { caller } = await demoBot()
    await caller.credits.grant({
      telegramUserId: 4,
      amount: 100,
      reason: 'pack',
      idempotencyKey: k(),
    })
    await caller.usage.consumeFeature({
      telegramUserId: 4,
      feature: 'ai.tokens',
      quantity: 5_000,
      idempotencyKey: k(),
    })
    const r = await caller.usage.reserveFeature({
      telegramUserId: 4,
      feature: 'ai.tokens',
      quantity: 2_000,
      idempotencyKey: k(),
    })
    expect(r).toMatchObject({ credits: 20, held: 20, available: 80 })
    expect(
      await caller.usage.settleFeature({
        reservationId: r.reservationId,
        quantity: 1_234,
        idempotencyKey: k(),
      }),
    ).toMatchObject({ charged: 13, returned: 7, available: 87, held: 0 })
    const again = await caller.usage.reserveFeature({
      telegramUserId: 4,
      feature: 'ai.tokens',
      quantity: 100,
      idempotencyKey: k(),
    })
    expect(
      await caller.usage.releaseFeature({
        reservationId: again.reservationId,
        idempotencyKey: k(),
      }),
    ).toMatchObject({
      returned: 1,
      available: 87,
    })
    const error = await errorOf(
      caller.usage.releaseFeature({ reservationId: again.reservationId, idempotencyKey: k() }),
    )
    expect(error.code).toBe('CONFLICT')
  })

  it('gated features: no entitlement is FORBIDDEN; entitlements list with source and end', async () => {
    const { caller, project } = await demoBot()
    await caller.customers.upsert({ telegramUserId: 5 })
    expect(await caller.access.check({ telegramUserId: 5, feature: 'pro' })).toMatchObject({
      allowed: false,
      reason: 'no_entitlement',
    })
    expect(
      (
        await errorOf(
          caller.usage.consumeFeature({
            telegramUserId: 5,
            feature: 'pro',
            quantity: 1,
            idempotencyKey: k(),
          }),
        )
      ).code,
    ).toBe('FORBIDDEN')
    const until = new Date(Date.now() + 7 * 86_400_000)
    await grantEntitlementByOperator(t.db, {
      projectId: project.id,
      telegramUserId: 5,
      featureKey: 'pro',
      until,
      actor: 'operator:x',
    })
    expect(await caller.access.check({ telegramUserId: 5, feature: 'pro' })).toMatchObject({
      allowed: true,
      entitlement: { until: until.toISOString() },
    })
    const listed = await caller.entitlements.list({ telegramUserId: 5 })
    expect(listed.entitlements.map((e) => [e.featureKey, e.source, e.endsAt])).toEqual([
      ['pro', 'operator', until.toISOString()],
    ])
    expect(listed.access).toEqual([{ featureKey: 'pro', until: until.toISOString() }])
  })

  it('low-balance events are polled with a cursor', async () => {
    const { caller, project } = await demoBot()
    await configureAccess(t.db, { projectId: project.id, lowBalanceThreshold: 30 })
    await caller.credits.grant({
      telegramUserId: 6,
      amount: 40,
      reason: 'pack',
      idempotencyKey: k(),
    })
    await caller.usage.consumeFeature({
      telegramUserId: 6,
      feature: 'image',
      quantity: 1,
      idempotencyKey: k(),
    })
    const first = await caller.events.poll({ limit: 10 })
    expect(first.events.map((e) => [e.type, e.telegramUserId, e.payload])).toEqual([
      ['balance.low', 6, expect.objectContaining({ available: 20, threshold: 30 })],
    ])
    expect(await caller.events.poll({ cursor: first.cursor })).toEqual({
      events: [],
      cursor: first.cursor,
    })
  })

  it('blocked customers are answered blocked and refused FORBIDDEN', async () => {
    const { caller, project } = await demoBot()
    await caller.credits.grant({
      telegramUserId: 7,
      amount: 100,
      reason: 'pack',
      idempotencyKey: k(),
    })
    await blockCustomer(t.db, { projectId: project.id, telegramUserId: 7 })
    expect((await caller.access.check({ telegramUserId: 7, feature: 'image' })).reason).toBe(
      'blocked',
    )
    expect(
      (
        await errorOf(
          caller.usage.consumeFeature({
            telegramUserId: 7,
            feature: 'image',
            quantity: 1,
            idempotencyKey: k(),
          }),
        )
      ).code,
    ).toBe('FORBIDDEN')
  })

  it('another project sees none of it', async () => {
    const a = await demoBot()
    const b = await botCaller(t.db, 'other')
    await a.caller.credits.grant({
      telegramUserId: 8,
      amount: 100,
      reason: 'pack',
      idempotencyKey: k(),
    })
    const r = await a.caller.usage.reserveFeature({
      telegramUserId: 8,
      feature: 'image',
      quantity: 1,
      idempotencyKey: k(),
    })
    expect(await b.caller.access.check({ telegramUserId: 8, feature: 'image' })).toMatchObject({
      allowed: false,
      reason: 'unknown_feature',
      available: 0,
    })
    expect(await b.caller.features.list()).toEqual([])
    expect(
      (
        await errorOf(
          b.caller.usage.settleFeature({
            reservationId: r.reservationId,
            quantity: 1,
            idempotencyKey: k(),
          }),
        )
      ).code,
    ).toBe('NOT_FOUND')
    expect((await errorOf(b.caller.entitlements.list({ telegramUserId: 8 }))).code).toBe(
      'NOT_FOUND',
    )
    expect((await b.caller.events.poll()).events).toEqual([])
  })

  it('bad input is BAD_REQUEST naming the field; no key is UNAUTHORIZED', async () => {
    const { caller } = await demoBot()
    for (const input of [
      { telegramUserId: 1, feature: 'image', quantity: 0 },
      { telegramUserId: 1, feature: 'image', quantity: 1.5 },
      { telegramUserId: 1, feature: 'Not A Key', quantity: 1 },
      { telegramUserId: -1, feature: 'image', quantity: 1 },
    ]) {
      const error = await errorOf(caller.access.check(input))
      expect(error.code).toBe('BAD_REQUEST')
    }
    expect((await errorOf(caller.events.poll({ cursor: 'x' }))).code).toBe('BAD_REQUEST')
    expect(
      (
        await errorOf(
          caller.usage.settleFeature({ reservationId: 'nope', quantity: 1, idempotencyKey: k() }),
        )
      ).code,
    ).toBe('BAD_REQUEST')
    expect(
      (await errorOf(anonymousCaller(t.db).access.check({ telegramUserId: 1, feature: 'image' })))
        .code,
    ).toBe('UNAUTHORIZED')
  })
})
