import { projects, rows } from '@e-stars/db'
import { eq, sql } from 'drizzle-orm'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  blockCustomer,
  CustomerBlocked,
  calendarWindow,
  checkAccess,
  configureAccess,
  consume,
  consumeFeature,
  creditsFor,
  defineFeature,
  getBalance,
  grantCredits,
  grantEntitlementByOperator,
  HoldNotActive,
  InsufficientCredits,
  InsufficientCreditsAfterAllowance,
  InvalidInput,
  listCustomerEntitlements,
  listQuotas,
  NoEntitlement,
  NotFound,
  pollEvents,
  QuotaExceeded,
  releaseFeature,
  reserve,
  reserveFeature,
  revokeEntitlement,
  seedDemoFeatures,
  setQuota,
  settleFeature,
  unblockCustomer,
  upsertCustomer,
} from '../src/index.ts'
import { grantEntitlement, revokeEntitlementsOfPayment } from '../src/usage/entitlements.ts'
import { createProject, fund, key, ledgerMismatches, useDatabase } from './fixtures.ts'

const t = useDatabase()

async function project(timeZone = 'UTC') {
  const p = await createProject(t.db)
  await t.db.update(projects).set({ timeZone }).where(eq(projects.id, p))
  return p
}

const use = (
  projectId: string,
  telegramUserId: number,
  feature: string,
  quantity: number,
  now?: Date,
) =>
  consumeFeature(t.db, {
    projectId,
    telegramUserId,
    feature,
    quantity,
    actor: 'test',
    idempotencyKey: key(),
    now,
  })

async function rejection(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).not.toBeNull()
  return error as Error
}

async function customerIdOf(projectId: string, telegramUserId: number) {
  const [row] = await rows<{ id: string }>(
    t.db,
    sql`select id from customers where project_id = ${projectId} and telegram_user_id = ${telegramUserId}`,
  )
  return Number(row!.id)
}

describe('cost conversion', () => {
  it('rounds up to whole credits: never fractional, never more than one credit above the exact price', () => {
    const tokens = { credits: 1, perUnits: 100 }
    expect(creditsFor(tokens, 0)).toBe(0)
    expect(creditsFor(tokens, 1)).toBe(1)
    expect(creditsFor(tokens, 100)).toBe(1)
    expect(creditsFor(tokens, 101)).toBe(2)
    expect(creditsFor(tokens, 150)).toBe(2)
    expect(creditsFor(tokens, 1_000)).toBe(10)
    expect(creditsFor({ credits: 20, perUnits: 1 }, 3)).toBe(60)
    expect(creditsFor({ credits: 3, perUnits: 7 }, 10)).toBe(5) // 30/7 = 4.28…
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (quantity, credits, perUnits) => {
          const cost = BigInt(creditsFor({ credits, perUnits }, quantity))
          const exact = BigInt(quantity) * BigInt(credits)
          // cost ≥ exact price and cost − 1 < exact price, both scaled by perUnits
          expect(cost * BigInt(perUnits) >= exact).toBe(true)
          expect((cost - 1n) * BigInt(perUnits) < exact || cost === 0n).toBe(true)
        },
      ),
    )
  })

  it('very large quantities convert exactly (no overflow, no float) or are refused', () => {
    // 9007199254740991 × 1_000_000 overflows a double's exact range; BigInt keeps it exact.
    expect(
      creditsFor({ credits: 1_000_000, perUnits: 1_000_000_000 }, Number.MAX_SAFE_INTEGER),
    ).toBe(9_007_199_254_741) // ceil(9007199254740.991)
    expect(creditsFor({ credits: 1, perUnits: 1_000_000_000_000 }, Number.MAX_SAFE_INTEGER)).toBe(
      9008,
    )
    expect(creditsFor({ credits: 7, perUnits: 3 }, 3 * 1_000_000_000_000)).toBe(7_000_000_000_000)
    expect(() => creditsFor({ credits: 2, perUnits: 1 }, Number.MAX_SAFE_INTEGER)).toThrow(
      InvalidInput,
    )
    expect(() => creditsFor({ credits: 1, perUnits: 1 }, 1.5)).toThrow(InvalidInput)
    expect(() => creditsFor({ credits: 1, perUnits: 1 }, -1)).toThrow(InvalidInput)
    expect(() => creditsFor({ credits: 1, perUnits: 1 }, 2 ** 60)).toThrow(InvalidInput)
  })

  it('consumption charges the converted cost and records the units', async () => {
    const p = await project()
    await defineFeature(t.db, {
      projectId: p,
      key: 'ai.tokens',
      name: 'AI',
      kind: 'metered',
      perUnits: 100,
    })
    await fund(t.db, p, 1, 10)
    const used = await use(p, 1, 'ai.tokens', 150)
    expect(used).toMatchObject({ quantity: 150, freeQuantity: 0, credits: 2, available: 8 })
    expect(await ledgerMismatches(t.db)).toEqual([])
  })
})

describe('calendar windows', () => {
  it('align to local midnight in the project time zone', () => {
    const w = calendarWindow(new Date('2026-05-10T14:59:59Z'), 'day', 'Asia/Tokyo')
    expect(w.start.toISOString()).toBe('2026-05-09T15:00:00.000Z')
    expect(w.end.toISOString()).toBe('2026-05-10T15:00:00.000Z')
    expect(
      calendarWindow(new Date('2026-05-10T15:00:00Z'), 'day', 'Asia/Tokyo').start.toISOString(),
    ).toBe('2026-05-10T15:00:00.000Z')
  })

  it('last 23 and 25 hours across DST changes', () => {
    const spring = calendarWindow(new Date('2026-03-29T12:00:00Z'), 'day', 'Europe/Berlin')
    expect([spring.start.toISOString(), spring.end.toISOString()]).toEqual([
      '2026-03-28T23:00:00.000Z',
      '2026-03-29T22:00:00.000Z',
    ])
    const autumn = calendarWindow(new Date('2026-10-25T12:00:00Z'), 'day', 'Europe/Berlin')
    expect(autumn.end.getTime() - autumn.start.getTime()).toBe(25 * 3_600_000)
    // Clocks jump over midnight in Santiago: the day starts at 01:00 local.
    const skipped = calendarWindow(new Date('2026-09-06T12:00:00Z'), 'day', 'America/Santiago')
    expect(skipped.start.toISOString()).toBe('2026-09-06T04:00:00.000Z')
  })

  it('weeks start on Monday, months on the 1st, local time', () => {
    const week = calendarWindow(new Date('2026-11-15T12:00:00Z'), 'week', 'Asia/Tokyo') // Sunday 21:00 JST
    expect([week.start.toISOString(), week.end.toISOString()]).toEqual([
      '2026-11-08T15:00:00.000Z',
      '2026-11-15T15:00:00.000Z',
    ])
    const month = calendarWindow(new Date('2026-03-31T22:30:00Z'), 'month', 'Europe/Berlin') // 1 April 00:30 CEST
    expect([month.start.toISOString(), month.end.toISOString()]).toEqual([
      '2026-03-31T22:00:00.000Z',
      '2026-04-30T22:00:00.000Z',
    ])
  })

  it('an unknown time zone is bad input', async () => {
    const p = await project()
    await expect(
      configureAccess(t.db, { projectId: p, timeZone: 'Mars/Olympus' }),
    ).rejects.toBeInstanceOf(InvalidInput)
  })
})

describe('quotas', () => {
  async function imageProject(
    timeZone: string,
    limit: number,
    window: 'calendar' | 'rolling' = 'calendar',
  ) {
    const p = await project(timeZone)
    await defineFeature(t.db, {
      projectId: p,
      key: 'image',
      name: 'Image',
      kind: 'metered',
      credits: 20,
    })
    await setQuota(t.db, {
      projectId: p,
      featureKey: 'image',
      scope: 'project',
      limit,
      period: 'day',
      window,
    })
    await fund(t.db, p, 7, 10_000, { now: new Date('2026-01-01T00:00:00Z') })
    return p
  }

  it('reset at the local calendar boundary in a non-UTC time zone', async () => {
    const p = await imageProject('Asia/Tokyo', 2)
    const lateEvening = new Date('2026-05-10T14:59:58Z') // 23:59:58 JST
    await use(p, 7, 'image', 1, new Date('2026-05-09T15:00:00Z')) // 00:00 JST, same local day
    await use(p, 7, 'image', 1, lateEvening)
    const refused = await rejection(use(p, 7, 'image', 1, new Date('2026-05-10T14:59:59Z')))
    expect(refused).toBeInstanceOf(QuotaExceeded)
    expect(refused).toMatchObject({
      limit: 2,
      used: 2,
      requested: 1,
      resetsAt: '2026-05-10T15:00:00.000Z',
    })
    const answer = await checkAccess(t.db, {
      projectId: p,
      telegramUserId: 7,
      feature: 'image',
      now: lateEvening,
    })
    expect(answer).toMatchObject({ allowed: false, reason: 'quota_exceeded', costCredits: 20 })
    expect(answer.quota).toMatchObject({ used: 2, limit: 2, resetsAt: '2026-05-10T15:00:00.000Z' })
    const midnight = new Date('2026-05-10T15:00:00Z')
    expect(
      await checkAccess(t.db, { projectId: p, telegramUserId: 7, feature: 'image', now: midnight }),
    ).toMatchObject({
      allowed: true,
      reason: 'ok',
      quota: { used: 0, limit: 2, resetsAt: '2026-05-11T15:00:00.000Z' },
    })
    await use(p, 7, 'image', 2, midnight)
  })

  it('a day that is 23 hours long (DST) resets at the next local midnight', async () => {
    const p = await imageProject('Europe/Berlin', 1)
    await use(p, 7, 'image', 1, new Date('2026-03-28T23:30:00Z')) // 00:30 CET on 29 March
    const beforeMidnight = new Date('2026-03-29T21:59:59Z') // 23:59:59 CEST
    expect(await rejection(use(p, 7, 'image', 1, beforeMidnight))).toMatchObject({
      resetsAt: '2026-03-29T22:00:00.000Z',
    })
    await use(p, 7, 'image', 1, new Date('2026-03-29T22:00:00Z'))
  })

  it('a 25-hour day (DST ends) counts all 25 hours as one day', async () => {
    const p = await imageProject('Europe/Berlin', 1)
    await use(p, 7, 'image', 1, new Date('2026-10-24T22:00:00Z')) // 00:00 CEST on 25 October
    expect(
      await rejection(use(p, 7, 'image', 1, new Date('2026-10-25T22:59:59Z'))), // 23:59:59 CET
    ).toBeInstanceOf(QuotaExceeded)
    await use(p, 7, 'image', 1, new Date('2026-10-25T23:00:00Z'))
  })

  it('a rolling quota reports its exhaustion once: reserve, refusals and the settle do not repeat it', async () => {
    const p = await imageProject('UTC', 1, 'rolling')
    const t0 = new Date('2026-06-01T10:00:00Z')
    const r = await reserveFeature(t.db, {
      projectId: p,
      telegramUserId: 7,
      feature: 'image',
      quantity: 1,
      actor: 't',
      idempotencyKey: key(),
      now: t0,
    })
    await rejection(use(p, 7, 'image', 1, new Date(t0.getTime() + 1000)))
    await rejection(use(p, 7, 'image', 1, new Date(t0.getTime() + 2000)))
    await settleFeature(t.db, {
      projectId: p,
      reservationId: r.reservationId,
      quantity: 1,
      actor: 't',
      idempotencyKey: key(),
      now: new Date(t0.getTime() + 3000),
    })
    const first = await pollEvents(t.db, { projectId: p })
    expect(first.events.map((e) => e.type)).toEqual(['quota.exhausted'])
    // A day later the use has left the window: the next one that fills it again reports again.
    await use(p, 7, 'image', 1, new Date(t0.getTime() + 86_400_000 + 5000))
    const again = await pollEvents(t.db, { projectId: p, cursor: first.cursor })
    expect(again.events.map((e) => e.type)).toEqual(['quota.exhausted'])
  })

  it('rolling windows count the last 24 hours up to now', async () => {
    const p = await imageProject('UTC', 2, 'rolling')
    const t0 = new Date('2026-06-01T10:00:00Z')
    await use(p, 7, 'image', 1, t0)
    await use(p, 7, 'image', 1, new Date(t0.getTime() + 3_600_000))
    const refused = await rejection(use(p, 7, 'image', 1, new Date(t0.getTime() + 23 * 3_600_000)))
    expect(refused).toMatchObject({ window: 'rolling', resetsAt: '2026-06-02T10:00:00.000Z' })
    // Midnight does not reset a rolling window.
    expect(await rejection(use(p, 7, 'image', 1, new Date('2026-06-02T00:00:01Z')))).toBeInstanceOf(
      QuotaExceeded,
    )
    await use(p, 7, 'image', 1, new Date('2026-06-02T10:00:00Z')) // the first use left the window
    expect(await rejection(use(p, 7, 'image', 1, new Date('2026-06-02T10:30:00Z')))).toMatchObject({
      resetsAt: '2026-06-02T11:00:00.000Z',
    })
  })

  it('answers with the balance at the instant: credits that expired count no more, before any job', async () => {
    const p = await project()
    await defineFeature(t.db, {
      projectId: p,
      key: 'image',
      name: 'Image',
      kind: 'metered',
      credits: 20,
    })
    const now = new Date('2026-02-02T12:00:00Z')
    const expiresAt = new Date('2026-02-02T13:00:00Z')
    await fund(t.db, p, 1, 30, { expiresAt, now })
    const at = (d: Date) =>
      checkAccess(t.db, { projectId: p, telegramUserId: 1, feature: 'image', now: d })
    expect(await at(new Date(expiresAt.getTime() - 1_000))).toMatchObject({
      allowed: true,
      available: 30,
    })
    expect(await at(expiresAt)).toMatchObject({
      allowed: false,
      reason: 'insufficient_credits',
      available: 0,
    })
    expect(await rejection(use(p, 1, 'image', 1, expiresAt))).toBeInstanceOf(InsufficientCredits)
  })

  it('a customer override beats a product quota, which beats the project quota', async () => {
    const p = await project()
    const now = new Date('2026-02-02T12:00:00Z')
    await defineFeature(t.db, {
      projectId: p,
      key: 'image',
      name: 'Image',
      kind: 'metered',
      credits: 1,
    })
    await defineFeature(t.db, { projectId: p, key: 'plus', name: 'Plus', kind: 'gated' })
    await t.db.execute(
      sql`insert into products (project_id, key, kind, title, description, price_stars, feature_key, duration_days)
          values (${p}, 'plus', 'subscription', 'Plus', 'More images', 100, 'plus', 30)`,
    )
    await setQuota(t.db, {
      projectId: p,
      featureKey: 'image',
      scope: 'project',
      limit: 10,
      period: 'day',
    })
    await setQuota(t.db, {
      projectId: p,
      featureKey: 'image',
      scope: 'product',
      productKey: 'plus',
      limit: 200,
      period: 'day',
    })
    for (const u of [1, 2, 3]) await fund(t.db, p, u, 1000)
    await grantEntitlementByOperator(t.db, {
      projectId: p,
      telegramUserId: 2,
      featureKey: 'plus',
      durationDays: 30,
      actor: 'op',
      now,
    })
    await grantEntitlementByOperator(t.db, {
      projectId: p,
      telegramUserId: 3,
      featureKey: 'plus',
      durationDays: 30,
      actor: 'op',
      now,
    })
    await setQuota(t.db, {
      projectId: p,
      featureKey: 'image',
      scope: 'customer',
      telegramUserId: 3,
      limit: 3,
      period: 'day',
    })
    const limitOf = async (u: number, at = now) =>
      (await checkAccess(t.db, { projectId: p, telegramUserId: u, feature: 'image', now: at }))
        .quota
    expect(await limitOf(1)).toMatchObject({ limit: 10, scope: 'project' })
    expect(await limitOf(2)).toMatchObject({ limit: 200, scope: 'product' })
    expect(await limitOf(3)).toMatchObject({ limit: 3, scope: 'customer' })
    expect(await limitOf(99)).toMatchObject({ limit: 10, used: 0 }) // never seen: the project's
    // When the plus entitlement ends, the project quota applies again.
    expect(await limitOf(2, new Date(now.getTime() + 31 * 86_400_000))).toMatchObject({ limit: 10 })
    // Setting the same quota again changes its limit instead of adding another.
    await setQuota(t.db, {
      projectId: p,
      featureKey: 'image',
      scope: 'project',
      limit: 12,
      period: 'day',
    })
    expect((await listQuotas(t.db, { projectId: p, featureKey: 'image' })).length).toBe(3)
    expect(await limitOf(1)).toMatchObject({ limit: 12 })
  })

  it('free allowance first, then credits, then PRECONDITION_FAILED facts with resetsAt', async () => {
    const p = await project('Europe/Berlin')
    await seedDemoFeatures(t.db, p)
    const noon = new Date('2026-07-01T10:00:00Z')
    // A new user gets the free prompts without any purchase.
    expect(await use(p, 5, 'ai.tokens', 3_000, noon)).toMatchObject({
      freeQuantity: 3_000,
      credits: 0,
      entryId: null,
      freeAllowance: { used: 3_000, limit: 5_000 },
    })
    await fund(t.db, p, 5, 30, { now: noon })
    // 2,000 left free; the other 1,500 tokens cost ceil(1500/100) = 15 credits.
    expect(await use(p, 5, 'ai.tokens', 3_500, noon)).toMatchObject({
      freeQuantity: 2_000,
      credits: 15,
      available: 15,
      freeAllowance: { used: 5_000, remaining: 0 },
    })
    expect(await use(p, 5, 'ai.tokens', 1_000, noon)).toMatchObject({
      freeQuantity: 0,
      credits: 10,
      available: 5,
    })
    const answer = await checkAccess(t.db, {
      projectId: p,
      telegramUserId: 5,
      feature: 'ai.tokens',
      quantity: 1_000,
      now: noon,
    })
    expect(answer).toMatchObject({
      allowed: false,
      reason: 'insufficient_credits',
      costCredits: 10,
      available: 5,
    })
    const refused = await rejection(use(p, 5, 'ai.tokens', 1_000, noon))
    expect(refused).toBeInstanceOf(InsufficientCredits)
    expect(refused).toMatchObject({
      code: 'INSUFFICIENT_CREDITS',
      available: 5,
      required: 10,
      freeAllowanceResetsAt: '2026-07-01T22:00:00.000Z', // local midnight, CEST
    })
    expect(refused).toBeInstanceOf(InsufficientCreditsAfterAllowance)
    // The next local day brings the allowance back.
    expect(await use(p, 5, 'ai.tokens', 1_000, new Date('2026-07-01T22:00:00Z'))).toMatchObject({
      freeQuantity: 1_000,
      credits: 0,
    })
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('the free allowance and a cap apply together: free, paid, then QuotaExceeded', async () => {
    const p = await project()
    await defineFeature(t.db, {
      projectId: p,
      key: 'image',
      name: 'Image',
      kind: 'metered',
      credits: 20,
    })
    await setQuota(t.db, {
      projectId: p,
      featureKey: 'image',
      scope: 'project',
      limit: 2,
      period: 'day',
      free: true,
    })
    await setQuota(t.db, {
      projectId: p,
      featureKey: 'image',
      scope: 'project',
      limit: 3,
      period: 'day',
    })
    await fund(t.db, p, 8, 100)
    const now = new Date('2026-03-03T08:00:00Z')
    expect(await use(p, 8, 'image', 2, now)).toMatchObject({
      freeQuantity: 2,
      credits: 0,
      available: 100,
    })
    expect(await use(p, 8, 'image', 1, now)).toMatchObject({
      freeQuantity: 0,
      credits: 20,
      available: 80,
    })
    expect(await rejection(use(p, 8, 'image', 1, now))).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      limit: 3,
      used: 3,
      resetsAt: '2026-03-04T00:00:00.000Z',
    })
    expect((await getBalance(t.db, { projectId: p, telegramUserId: 8 })).available).toBe(80)
  })
})

describe('reserve and settle by feature', () => {
  it('reserves an estimate, settles the actual units: free part first, hold returns the rest', async () => {
    const p = await project()
    await seedDemoFeatures(t.db, p)
    await fund(t.db, p, 3, 100)
    const now = new Date('2026-04-04T09:00:00Z')
    await use(p, 3, 'ai.tokens', 4_500, now) // 500 free tokens left today
    const r = await reserveFeature(t.db, {
      projectId: p,
      telegramUserId: 3,
      feature: 'ai.tokens',
      quantity: 2_500,
      actor: 'test',
      idempotencyKey: key(),
      now,
    })
    expect(r).toMatchObject({
      quantity: 2_500,
      freeQuantity: 500,
      credits: 20,
      available: 80,
      held: 20,
    })
    // The reservation counts: the free allowance is taken while it is active.
    expect(
      await checkAccess(t.db, {
        projectId: p,
        telegramUserId: 3,
        feature: 'ai.tokens',
        quantity: 100,
        now,
      }),
    ).toMatchObject({ freeQuantity: 0, costCredits: 1, freeAllowance: { used: 5_000 } })
    const s = await settleFeature(t.db, {
      projectId: p,
      reservationId: r.reservationId,
      quantity: 1_200,
      actor: 'test',
      idempotencyKey: key(),
      now,
    })
    // 500 free, 700 paid = 7 credits; 13 of the 20 held go back.
    expect(s).toMatchObject({
      quantity: 1_200,
      freeQuantity: 500,
      reserved: 20,
      charged: 7,
      returned: 13,
      shortfall: 0,
      available: 93,
      held: 0,
    })
    await expect(
      settleFeature(t.db, {
        projectId: p,
        reservationId: r.reservationId,
        quantity: 1,
        actor: 'test',
        idempotencyKey: key(),
        now,
      }),
    ).rejects.toBeInstanceOf(HoldNotActive)
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('a fully free estimate holds no credits; an actual above it is charged when payable', async () => {
    const p = await project()
    await seedDemoFeatures(t.db, p)
    await fund(t.db, p, 4, 50)
    const now = new Date('2026-04-04T09:00:00Z')
    const r = await reserveFeature(t.db, {
      projectId: p,
      telegramUserId: 4,
      feature: 'ai.tokens',
      quantity: 1_000,
      actor: 'test',
      idempotencyKey: key(),
      now,
    })
    expect(r).toMatchObject({ freeQuantity: 1_000, credits: 0, held: 0, available: 50 })
    const s = await settleFeature(t.db, {
      projectId: p,
      reservationId: r.reservationId,
      quantity: 6_050,
      actor: 'test',
      idempotencyKey: key(),
      now,
    })
    expect(s).toMatchObject({ freeQuantity: 5_000, charged: 11, shortfall: 0, available: 39 })
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('release returns the credits and frees the units; an expired reservation counts no more', async () => {
    const p = await project()
    await defineFeature(t.db, {
      projectId: p,
      key: 'image',
      name: 'Image',
      kind: 'metered',
      credits: 20,
    })
    await setQuota(t.db, {
      projectId: p,
      featureKey: 'image',
      scope: 'project',
      limit: 1,
      period: 'day',
    })
    await fund(t.db, p, 6, 100)
    const now = new Date('2026-04-04T09:00:00Z')
    const reserve = (at: Date) =>
      reserveFeature(t.db, {
        projectId: p,
        telegramUserId: 6,
        feature: 'image',
        quantity: 1,
        ttlSeconds: 60,
        actor: 'test',
        idempotencyKey: key(),
        now: at,
      })
    const r = await reserve(now)
    expect(await rejection(reserve(now))).toBeInstanceOf(QuotaExceeded)
    expect(
      await releaseFeature(t.db, {
        projectId: p,
        reservationId: r.reservationId,
        actor: 'test',
        idempotencyKey: key(),
        now,
      }),
    ).toMatchObject({ returned: 20, available: 100, held: 0 })
    await reserve(now)
    // The second reservation lapses after 60 s: the slot is free again without any job.
    const later = new Date(now.getTime() + 61_000)
    expect(
      (await checkAccess(t.db, { projectId: p, telegramUserId: 6, feature: 'image', now: later }))
        .reason,
    ).toBe('ok')
    await reserve(later)
    expect(await ledgerMismatches(t.db)).toEqual([])
  })
})

describe('entitlements', () => {
  async function proProject() {
    const p = await project()
    await defineFeature(t.db, { projectId: p, key: 'pro', name: 'Pro', kind: 'gated' })
    return p
  }

  it('access ends exactly at expiry, to the second, with no job', async () => {
    const p = await proProject()
    const now = new Date('2026-01-10T12:00:00Z')
    const until = new Date('2026-01-20T12:00:00Z')
    await grantEntitlementByOperator(t.db, {
      projectId: p,
      telegramUserId: 1,
      featureKey: 'pro',
      until,
      actor: 'op',
      now,
    })
    const at = (ms: number) =>
      checkAccess(t.db, { projectId: p, telegramUserId: 1, feature: 'pro', now: new Date(ms) })
    expect(await at(until.getTime() - 1_000)).toMatchObject({
      allowed: true,
      reason: 'ok',
      costCredits: 0,
      entitlement: { until: until.toISOString() },
    })
    expect(await at(until.getTime())).toMatchObject({
      allowed: false,
      reason: 'no_entitlement',
      entitlement: null,
    })
    await use(p, 1, 'pro', 1, new Date(until.getTime() - 1_000))
    expect(await rejection(use(p, 1, 'pro', 1, until))).toBeInstanceOf(NoEntitlement)
    expect(
      await checkAccess(t.db, { projectId: p, telegramUserId: 2, feature: 'pro', now }),
    ).toMatchObject({
      reason: 'no_entitlement',
    })
  })

  it('a refund revokes the entitlement it bought', async () => {
    const p = await proProject()
    const now = new Date('2026-01-10T12:00:00Z')
    const customer = await upsertCustomer(t.db, { projectId: p, telegramUserId: 1 })
    expect(customer.telegramUserId).toBe(1)
    const customerId = await customerIdOf(p, 1)
    await t.db.transaction((tx) =>
      grantEntitlement(tx, {
        projectId: p,
        customerId,
        featureKey: 'pro',
        source: 'unlock',
        startsAt: now,
        endsAt: null,
        paymentId: 4242,
      }),
    )
    expect(
      (await checkAccess(t.db, { projectId: p, telegramUserId: 1, feature: 'pro', now }))
        .entitlement,
    ).toEqual({ until: null })
    const revoked = await t.db.transaction((tx) =>
      revokeEntitlementsOfPayment(tx, {
        projectId: p,
        paymentId: 4242,
        reason: 'refund',
        by: 'test',
        now,
      }),
    )
    expect(revoked).toBe(1)
    expect(
      await checkAccess(t.db, { projectId: p, telegramUserId: 1, feature: 'pro', now }),
    ).toMatchObject({
      allowed: false,
      reason: 'no_entitlement',
    })
    expect(
      (await listCustomerEntitlements(t.db, { projectId: p, telegramUserId: 1, now })).entitlements,
    ).toEqual([])
  })

  it('a subscription renewal extends access through chained periods', async () => {
    const p = await proProject()
    await upsertCustomer(t.db, { projectId: p, telegramUserId: 1 })
    const customerId = await customerIdOf(p, 1)
    const start = new Date('2026-01-01T00:00:00Z')
    const first = new Date('2026-01-31T00:00:00Z')
    const second = new Date('2026-03-02T00:00:00Z')
    await t.db.transaction(async (tx) => {
      await grantEntitlement(tx, {
        projectId: p,
        customerId,
        featureKey: 'pro',
        source: 'subscription',
        startsAt: start,
        endsAt: first,
      })
      await grantEntitlement(tx, {
        projectId: p,
        customerId,
        featureKey: 'pro',
        source: 'subscription',
        startsAt: first,
        endsAt: second,
      })
    })
    const at = (d: Date) =>
      checkAccess(t.db, { projectId: p, telegramUserId: 1, feature: 'pro', now: d })
    expect((await at(new Date('2026-01-15T00:00:00Z'))).entitlement).toEqual({
      until: second.toISOString(),
    })
    expect(await at(new Date('2026-02-15T00:00:00Z'))).toMatchObject({ allowed: true })
    expect(await at(second)).toMatchObject({ allowed: false, reason: 'no_entitlement' })
    const listed = await listCustomerEntitlements(t.db, {
      projectId: p,
      telegramUserId: 1,
      now: new Date('2026-01-15T00:00:00Z'),
    })
    expect(listed.access).toEqual([{ featureKey: 'pro', until: second.toISOString() }])
    expect(listed.entitlements.map((e) => [e.source, e.active])).toEqual([
      ['subscription', true],
      ['subscription', false],
    ])
  })

  it('operator grants stack by duration, for life, and revoke ends them', async () => {
    const p = await proProject()
    const now = new Date('2026-01-10T00:00:00Z')
    const a = await grantEntitlementByOperator(t.db, {
      projectId: p,
      telegramUserId: 1,
      featureKey: 'pro',
      durationDays: 10,
      actor: 'op',
      now,
    })
    const b = await grantEntitlementByOperator(t.db, {
      projectId: p,
      telegramUserId: 1,
      featureKey: 'pro',
      durationDays: 5,
      actor: 'op',
      now,
    })
    expect(b).toMatchObject({
      startsAt: '2026-01-20T00:00:00.000Z',
      accessUntil: '2026-01-25T00:00:00.000Z',
      source: 'operator',
    })
    await revokeEntitlement(t.db, {
      projectId: p,
      entitlementId: a.entitlementId,
      reason: 'abuse',
      by: 'op',
      now,
    })
    // Revoking twice changes nothing, and writes no second event.
    await revokeEntitlement(t.db, {
      projectId: p,
      entitlementId: a.entitlementId,
      reason: 'abuse',
      by: 'op',
      now,
    })
    const events = await rows<{ type: string; payload: Record<string, unknown> }>(
      t.db,
      sql`select type, payload from events where project_id = ${p}
          and type like 'entitlement.%' order by id`,
    )
    expect(events).toEqual([
      {
        type: 'entitlement.granted',
        payload: expect.objectContaining({ entitlementId: a.entitlementId, feature: 'pro' }),
      },
      {
        type: 'entitlement.granted',
        payload: expect.objectContaining({ entitlementId: b.entitlementId, source: 'operator' }),
      },
      {
        type: 'entitlement.revoked',
        payload: expect.objectContaining({
          entitlementId: a.entitlementId,
          feature: 'pro',
          reason: 'abuse',
        }),
      },
    ])
    expect(
      await checkAccess(t.db, { projectId: p, telegramUserId: 1, feature: 'pro', now }),
    ).toMatchObject({ reason: 'no_entitlement' })
    const life = await grantEntitlementByOperator(t.db, {
      projectId: p,
      telegramUserId: 1,
      featureKey: 'pro',
      actor: 'op',
      now,
    })
    expect(life).toMatchObject({ endsAt: null, accessUntil: null })
    expect(
      await checkAccess(t.db, {
        projectId: p,
        telegramUserId: 1,
        feature: 'pro',
        now: new Date('2099-01-01T00:00:00Z'),
      }),
    ).toMatchObject({
      allowed: true,
      entitlement: { until: null },
    })
    await expect(
      grantEntitlementByOperator(t.db, {
        projectId: p,
        telegramUserId: 1,
        featureKey: 'nope',
        actor: 'op',
        now,
      }),
    ).rejects.toBeInstanceOf(NotFound)
    await expect(
      grantEntitlementByOperator(t.db, {
        projectId: p,
        telegramUserId: 1,
        featureKey: 'pro',
        until: new Date(now.getTime() - 1),
        actor: 'op',
        now,
      }),
    ).rejects.toBeInstanceOf(InvalidInput)
  })
})

describe('events', () => {
  it('one low-balance event per downward crossing; a top-up re-arms it, returned holds do not', async () => {
    const p = await project()
    await configureAccess(t.db, { projectId: p, lowBalanceThreshold: 100 })
    await defineFeature(t.db, {
      projectId: p,
      key: 'image',
      name: 'Image',
      kind: 'metered',
      credits: 30,
    })
    await fund(t.db, p, 1, 150)
    await use(p, 1, 'image', 1) // 120: above
    await use(p, 1, 'image', 1) // 90: crossed
    await use(p, 1, 'image', 1) // 60: still below, no new event
    let polled = await pollEvents(t.db, { projectId: p })
    expect(polled.events.map((e) => [e.type, e.telegramUserId, e.payload.available])).toEqual([
      ['balance.low', 1, 90],
    ])
    await fund(t.db, p, 1, 100) // 160: re-armed
    const r = await reserveFeature(t.db, {
      projectId: p,
      telegramUserId: 1,
      feature: 'image',
      quantity: 3,
      actor: 't',
      idempotencyKey: key(),
    })
    await releaseFeature(t.db, {
      projectId: p,
      reservationId: r.reservationId,
      actor: 't',
      idempotencyKey: key(),
    })
    await reserveFeature(t.db, {
      projectId: p,
      telegramUserId: 1,
      feature: 'image',
      quantity: 3,
      actor: 't',
      idempotencyKey: key(),
    })
    polled = await pollEvents(t.db, { projectId: p, cursor: polled.cursor })
    expect(polled.events.map((e) => [e.type, e.payload.available])).toEqual([['balance.low', 70]])
    expect(await pollEvents(t.db, { projectId: p, cursor: polled.cursor })).toEqual({
      events: [],
      cursor: polled.cursor,
    })
  })

  it('plain usage.consume and reserve cross the threshold too, once', async () => {
    const p = await project()
    await configureAccess(t.db, { projectId: p, lowBalanceThreshold: 50 })
    await fund(t.db, p, 1, 60)
    const spend = (amount: number) =>
      consume(t.db, {
        projectId: p,
        telegramUserId: 1,
        amount,
        reason: 'r',
        actor: 't',
        idempotencyKey: key(),
      })
    await spend(5) // 55
    await spend(10) // 45: crossed
    await spend(10) // 35
    await reserve(t.db, {
      projectId: p,
      telegramUserId: 1,
      amount: 5,
      reason: 'r',
      actor: 't',
      idempotencyKey: key(),
    })
    const { events } = await pollEvents(t.db, { projectId: p })
    expect(events.map((e) => [e.type, e.payload.available])).toEqual([['balance.low', 45]])
  })

  it('no threshold, no events', async () => {
    const p = await project()
    await defineFeature(t.db, {
      projectId: p,
      key: 'image',
      name: 'Image',
      kind: 'metered',
      credits: 30,
    })
    await fund(t.db, p, 1, 40)
    await use(p, 1, 'image', 1)
    expect((await pollEvents(t.db, { projectId: p })).events).toEqual([])
  })

  it('one quota-exhausted event per window, also when requests are refused', async () => {
    const p = await project()
    await defineFeature(t.db, {
      projectId: p,
      key: 'image',
      name: 'Image',
      kind: 'metered',
      credits: 1,
    })
    await setQuota(t.db, {
      projectId: p,
      featureKey: 'image',
      scope: 'project',
      limit: 2,
      period: 'day',
    })
    await setQuota(t.db, {
      projectId: p,
      featureKey: 'image',
      scope: 'project',
      limit: 1,
      period: 'day',
      free: true,
    })
    await fund(t.db, p, 1, 100)
    const day1 = new Date('2026-08-01T10:00:00Z')
    await use(p, 1, 'image', 1, day1) // free allowance used up
    await use(p, 1, 'image', 1, day1) // cap reached
    await rejection(use(p, 1, 'image', 1, day1))
    await rejection(use(p, 1, 'image', 1, day1))
    const day2 = new Date('2026-08-02T10:00:00Z')
    await use(p, 1, 'image', 2, day2)
    const { events } = await pollEvents(t.db, { projectId: p })
    expect(events.map((e) => [e.type, e.payload.resetsAt])).toEqual([
      ['free_allowance.exhausted', '2026-08-02T00:00:00.000Z'],
      ['quota.exhausted', '2026-08-02T00:00:00.000Z'],
      ['free_allowance.exhausted', '2026-08-03T00:00:00.000Z'],
      ['quota.exhausted', '2026-08-03T00:00:00.000Z'],
    ])
    // A refusal with room left but too big a request also reports, once.
    const p2 = await project()
    await defineFeature(t.db, {
      projectId: p2,
      key: 'image',
      name: 'Image',
      kind: 'metered',
      credits: 1,
    })
    await setQuota(t.db, {
      projectId: p2,
      featureKey: 'image',
      scope: 'project',
      limit: 5,
      period: 'day',
    })
    await fund(t.db, p2, 1, 100)
    await use(p2, 1, 'image', 4, day1)
    await rejection(use(p2, 1, 'image', 2, day1))
    await rejection(use(p2, 1, 'image', 3, day1))
    expect((await pollEvents(t.db, { projectId: p2 })).events.map((e) => e.type)).toEqual([
      'quota.exhausted',
    ])
  })

  it('a bad cursor is bad input', async () => {
    const p = await project()
    await expect(pollEvents(t.db, { projectId: p, cursor: 'abc' })).rejects.toBeInstanceOf(
      InvalidInput,
    )
  })
})

describe('guards', () => {
  it('a blocked customer cannot consume; access.check says blocked; unblock restores', async () => {
    const p = await project()
    await seedDemoFeatures(t.db, p)
    await fund(t.db, p, 1, 100)
    await blockCustomer(t.db, { projectId: p, telegramUserId: 1 })
    expect(
      await checkAccess(t.db, { projectId: p, telegramUserId: 1, feature: 'image' }),
    ).toMatchObject({
      allowed: false,
      reason: 'blocked',
    })
    expect(await rejection(use(p, 1, 'image', 1))).toBeInstanceOf(CustomerBlocked)
    expect(await rejection(use(p, 1, 'ai.tokens', 10))).toBeInstanceOf(CustomerBlocked)
    expect((await getBalance(t.db, { projectId: p, telegramUserId: 1 })).available).toBe(100)
    expect((await unblockCustomer(t.db, { projectId: p, telegramUserId: 1 })).blocked).toBe(false)
    expect(await use(p, 1, 'image', 1)).toMatchObject({ credits: 20, available: 80 })
    await expect(blockCustomer(t.db, { projectId: p, telegramUserId: 404 })).rejects.toBeInstanceOf(
      NotFound,
    )
  })

  it('tenants are isolated: features, quotas, usage and reservations of one project are invisible to another', async () => {
    const a = await project()
    const b = await project()
    await seedDemoFeatures(t.db, a)
    await fund(t.db, a, 1, 100)
    await fund(t.db, b, 1, 100)
    expect(
      await checkAccess(t.db, { projectId: b, telegramUserId: 1, feature: 'image' }),
    ).toMatchObject({
      allowed: false,
      reason: 'unknown_feature',
      available: 100,
    })
    await expect(use(b, 1, 'image', 1)).rejects.toBeInstanceOf(NotFound)
    const r = await reserveFeature(t.db, {
      projectId: a,
      telegramUserId: 1,
      feature: 'image',
      quantity: 1,
      actor: 't',
      idempotencyKey: key(),
    })
    await expect(
      settleFeature(t.db, {
        projectId: b,
        reservationId: r.reservationId,
        quantity: 1,
        actor: 't',
        idempotencyKey: key(),
      }),
    ).rejects.toBeInstanceOf(NotFound)
    await expect(
      releaseFeature(t.db, {
        projectId: b,
        reservationId: r.reservationId,
        actor: 't',
        idempotencyKey: key(),
      }),
    ).rejects.toBeInstanceOf(NotFound)
    expect((await listQuotas(t.db, { projectId: b })).length).toBe(0)
    expect((await getBalance(t.db, { projectId: b, telegramUserId: 1 })).available).toBe(100)
  })

  it('bad input is refused before anything is written', async () => {
    const p = await project()
    await seedDemoFeatures(t.db, p)
    await fund(t.db, p, 1, 100)
    for (const quantity of [0, -1, 1.5, Number.NaN]) {
      await expect(use(p, 1, 'image', quantity)).rejects.toBeInstanceOf(InvalidInput)
      await expect(
        checkAccess(t.db, { projectId: p, telegramUserId: 1, feature: 'image', quantity }),
      ).rejects.toBeInstanceOf(InvalidInput)
    }
    await expect(
      setQuota(t.db, {
        projectId: p,
        featureKey: 'image',
        scope: 'project',
        limit: -1,
        period: 'day',
      }),
    ).rejects.toBeInstanceOf(InvalidInput)
    await expect(
      setQuota(t.db, {
        projectId: p,
        featureKey: 'image',
        scope: 'product',
        limit: 1,
        period: 'day',
      }),
    ).rejects.toBeInstanceOf(InvalidInput)
    await expect(
      setQuota(t.db, {
        projectId: p,
        featureKey: 'ghost',
        scope: 'project',
        limit: 1,
        period: 'day',
      }),
    ).rejects.toBeInstanceOf(NotFound)
    await expect(
      defineFeature(t.db, { projectId: p, key: 'Bad Key', name: 'x', kind: 'metered' }),
    ).rejects.toBeInstanceOf(InvalidInput)
    await expect(
      defineFeature(t.db, { projectId: p, key: 'vip', name: 'x', kind: 'gated', credits: 5 }),
    ).rejects.toBeInstanceOf(InvalidInput)
    await expect(
      defineFeature(t.db, { projectId: p, key: 'x', name: 'x', kind: 'metered', perUnits: 0 }),
    ).rejects.toBeInstanceOf(InvalidInput)
    expect((await getBalance(t.db, { projectId: p, telegramUserId: 1 })).available).toBe(100)
  })

  it('consumption by feature is idempotent: same key replays, different input conflicts', async () => {
    const p = await project()
    await seedDemoFeatures(t.db, p)
    await fund(t.db, p, 1, 100)
    const input = {
      projectId: p,
      telegramUserId: 1,
      feature: 'image',
      quantity: 1,
      actor: 't',
      idempotencyKey: key(),
    }
    const first = await consumeFeature(t.db, input)
    expect(await consumeFeature(t.db, input)).toEqual(first)
    await expect(consumeFeature(t.db, { ...input, quantity: 2 })).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
    })
    expect((await getBalance(t.db, { projectId: p, telegramUserId: 1 })).available).toBe(80)
  })

  it('a refused request with a key leaves the key usable', async () => {
    const p = await project()
    await seedDemoFeatures(t.db, p)
    const input = {
      projectId: p,
      telegramUserId: 1,
      feature: 'image',
      quantity: 1,
      actor: 't',
      idempotencyKey: key(),
    }
    await expect(consumeFeature(t.db, input)).rejects.toBeInstanceOf(InsufficientCredits)
    await grantCredits(t.db, {
      projectId: p,
      telegramUserId: 1,
      amount: 20,
      reason: 'r',
      source: 'promo',
      actor: 't',
      idempotencyKey: key(),
    })
    expect(await consumeFeature(t.db, input)).toMatchObject({ credits: 20, available: 0 })
  })
})
