import { type Db, events, ledgerEntries, projects, rows, subscriptions } from '@e-stars/db'
import { and, eq, sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import {
  addCostCap,
  checkMarginAlerts,
  checkMarginFloor,
  costOf,
  defaultPrice,
  grantCredits,
  type ModelPrice,
  marginFloorMaxTokens,
  priceFor,
  setModelPrice,
  type UsageRecord,
  verifyLedger,
} from '../src/index.ts'
import { lockCustomer } from '../src/ledger/customers.ts'
import { appendEntry } from '../src/ledger/entries.ts'
import { debit, takeFromLots } from '../src/ledger/lots.ts'
import { transact } from '../src/ledger/transaction.ts'
import { createProject, key, ledgerMismatches, onPostgres, useDatabase } from './fixtures.ts'

const t = useDatabase({ poolSize: 10 })
const USER = 9_001

const usage = (over: Partial<UsageRecord> = {}): UsageRecord => ({
  provider: 'acme',
  model: 'answer-1',
  inputTokens: 1000,
  outputTokens: 500,
  ...over,
})

/** One metered consume through the ledger's own door: lock, burn order, appendEntry with usage. */
function metered(
  db: Db,
  projectId: string,
  credits: number,
  record: UsageRecord,
  now = new Date(),
) {
  return transact(db, async (tx) => {
    const customer = await lockCustomer(tx, projectId, USER, { allowBlocked: true })
    const allocations = await takeFromLots(tx, customer, credits, now)
    return appendEntry(tx, customer, {
      kind: 'consume',
      amount: -credits,
      lots: debit(allocations),
      reason: 'answer',
      actor: 'test',
      idempotencyKey: key(),
      usage: record,
      now,
    })
  })
}

async function project(db: Db, over: Partial<typeof projects.$inferInsert> = {}) {
  const id = await createProject(db)
  if (Object.keys(over).length) await db.update(projects).set(over).where(eq(projects.id, id))
  await grantCredits(db, {
    projectId: id,
    telegramUserId: USER,
    amount: 1_000_000,
    reason: 'funds',
    source: 'promo',
    actor: 'test',
    idempotencyKey: key(),
  })
  // acme/answer-1: 2 USD per million input, 8 per million output, 0.5 per million cached input.
  await setModelPrice(db, {
    projectId: id,
    provider: 'acme',
    model: 'answer-1',
    inputPerMillionMicros: 2_000_000,
    outputPerMillionMicros: 8_000_000,
    cachedInputPerMillionMicros: 500_000,
    updatedBy: 'test',
  })
  return id
}

const entry = async (db: Db, id: number) =>
  (await db.select().from(ledgerEntries).where(eq(ledgerEntries.id, id)))[0]!

const codeOf = async (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (e: { code?: string }) => e,
  )

describe('cost of goods', () => {
  it('integer cost from the price book, cached input at its rate, rounded up once', () => {
    const price: ModelPrice = {
      provider: 'acme',
      model: 'answer-1',
      inputPerMillionMicros: 2_000_000,
      outputPerMillionMicros: 8_000_000,
      cachedInputPerMillionMicros: 500_000,
      source: 'book',
    }
    // 800 fresh × 2 + 200 cached × 0.5 + 500 × 8 = 1600 + 100 + 4000 micro-USD.
    expect(costOf(price, usage({ cachedInputTokens: 200 }))).toBe(5_700)
    // One token at 2 USD per million is 2 micro-USD; 1 token at 0.5 rounds up to 1.
    expect(
      costOf({ ...price, outputPerMillionMicros: 0 }, usage({ inputTokens: 1, outputTokens: 0 })),
    ).toBe(2)
    expect(costOf(price, usage({ inputTokens: 1, cachedInputTokens: 1, outputTokens: 0 }))).toBe(1)
  })

  it('ships default prices offline (tokenlens) and the project book overrides them', async () => {
    const shipped = defaultPrice('openai', 'gpt-4o-mini')
    expect(shipped).not.toBeNull()
    expect(shipped!.inputPerMillionMicros).toBeGreaterThan(0)
    expect(Number.isInteger(shipped!.outputPerMillionMicros)).toBe(true)
    const id = await project(t.db)
    expect((await priceFor(t.db, id, 'OpenAI', 'GPT-4o-mini'))!.source).toBe('default')
    await setModelPrice(t.db, {
      projectId: id,
      provider: 'openai',
      model: 'gpt-4o-mini',
      inputPerMillionMicros: 1,
      outputPerMillionMicros: 1,
      updatedBy: 'test',
    })
    expect(await priceFor(t.db, id, 'openai', 'gpt-4o-mini')).toMatchObject({
      source: 'book',
      inputPerMillionMicros: 1,
    })
    // Another project's book is not this one's (wrong tenant).
    const other = await project(t.db)
    expect((await priceFor(t.db, other, 'openai', 'gpt-4o-mini'))!.source).toBe('default')
  })

  it('a consume with usage carries its cost and usage, hashed into the chain', async () => {
    const id = await project(t.db)
    const after = await metered(t.db, id, 3, usage({ cachedInputTokens: 200 }))
    const e = await entry(t.db, after.entryId)
    expect(e.costMicros).toBe(5_700)
    expect(e.revenueMicros).toBe(0)
    expect(e.usage).toMatchObject({ provider: 'acme', model: 'answer-1', inputTokens: 1000 })
    // The provider's own cost wins over the book.
    const own = await metered(t.db, id, 1, usage({ costMicros: 42 }))
    expect((await entry(t.db, own.entryId)).costMicros).toBe(42)
    expect((await verifyLedger(t.db, { projectId: id })).findings).toEqual([])
    // Tampering with a cost breaks the chain.
    await t.db.execute(sql`alter table ledger_entries disable trigger user`)
    try {
      await t.db.execute(sql`update ledger_entries set cost_micros = 1 where id = ${own.entryId}`)
    } finally {
      await t.db.execute(sql`alter table ledger_entries enable trigger user`)
    }
    const findings = (await verifyLedger(t.db, { projectId: id })).findings
    expect(findings.map((f) => f.entryId)).toContain(own.entryId)
  })

  it('bad usage is refused naming the field, nothing written', async () => {
    const id = await project(t.db)
    for (const [bad, field] of [
      [usage({ inputTokens: -1 }), 'usage.inputTokens'],
      [usage({ outputTokens: 1.5 }), 'usage.outputTokens'],
      [usage({ costMicros: -3 }), 'usage.costMicros'],
      [usage({ cachedInputTokens: 5000 }), 'usage.cachedInputTokens'],
      [usage({ model: '  ' }), 'usage.model'],
    ] as const) {
      const error = (await codeOf(metered(t.db, id, 1, bad))) as { code: string; field: string }
      expect(error).toMatchObject({ code: 'INVALID_INPUT', field })
    }
    const [n] = await rows<{ n: string }>(
      t.db,
      sql`select count(*) n from ledger_entries where project_id = ${id} and kind = 'consume'`,
    )
    expect(Number(n!.n)).toBe(0)
  })
})

describe('the unpriced-model policy', () => {
  it('refuse: UNPRICED_MODEL, nothing written', async () => {
    const id = await project(t.db, { unpricedModelPolicy: 'refuse' })
    const error = await codeOf(metered(t.db, id, 1, usage({ model: 'mystery-9' })))
    expect(error).toMatchObject({ code: 'UNPRICED_MODEL', provider: 'acme', model: 'mystery-9' })
    const [n] = await rows<{ n: string }>(
      t.db,
      sql`select count(*) n from ledger_entries where project_id = ${id} and kind = 'consume'`,
    )
    expect(Number(n!.n)).toBe(0)
  })

  it('flag: recorded with usage.unpriced and no cost, one alert event for the model', async () => {
    const id = await project(t.db, { unpricedModelPolicy: 'flag' })
    const first = await metered(t.db, id, 1, usage({ model: 'mystery-9' }))
    await metered(t.db, id, 1, usage({ model: 'mystery-9' }))
    const e = await entry(t.db, first.entryId)
    expect(e.costMicros).toBeNull()
    expect(e.usage).toMatchObject({ unpriced: true, model: 'mystery-9' })
    const alerts = await t.db
      .select()
      .from(events)
      .where(and(eq(events.projectId, id), eq(events.type, 'margin.unpriced_model')))
    expect(alerts).toHaveLength(1)
    expect(alerts[0]!.payload).toMatchObject({ provider: 'acme', model: 'mystery-9' })
  })
})

describe('cost caps', () => {
  it('a consume reaching the cap exactly passes; one micro-dollar past it is refused with resetsAt', async () => {
    const id = await project(t.db, { timeZone: 'Asia/Tokyo' })
    // Each act costs 1000 × 2 + 500 × 8 = 6000 micro-USD.
    await addCostCap(t.db, { projectId: id, scope: 'project', period: 'day', capMicros: 12_000 })
    const now = new Date('2026-05-10T20:00:00Z') // 05:00 on 11 May in Tokyo
    await metered(t.db, id, 1, usage(), now)
    await metered(t.db, id, 1, usage(), now)
    const refused = await codeOf(metered(t.db, id, 1, usage(), now))
    expect(refused).toMatchObject({
      code: 'COST_CAP_REACHED',
      capMicros: 12_000,
      spentMicros: 12_000,
      requestedMicros: 6_000,
      period: 'day',
      // Midnight of 12 May in Tokyo.
      resetsAt: '2026-05-11T15:00:00.000Z',
    })
  })

  it('a customer override wins over the project cap; a month cap resets at the month in the zone', async () => {
    const id = await project(t.db, { timeZone: 'Europe/Berlin' })
    await addCostCap(t.db, { projectId: id, scope: 'project', period: 'day', capMicros: 6_000 })
    await addCostCap(t.db, {
      projectId: id,
      scope: 'customer',
      period: 'month',
      capMicros: 18_000,
      telegramUserId: USER,
    })
    const now = new Date('2026-02-10T12:00:00Z')
    for (let i = 0; i < 3; i++) await metered(t.db, id, 1, usage(), now)
    expect(await codeOf(metered(t.db, id, 1, usage(), now))).toMatchObject({
      code: 'COST_CAP_REACHED',
      scope: 'customer',
      resetsAt: '2026-02-28T23:00:00.000Z',
    })
  })

  it('a product cap applies to the product holders only; another project’s cap never applies', async () => {
    const id = await project(t.db)
    await addCostCap(t.db, {
      projectId: id,
      scope: 'product',
      period: 'day',
      capMicros: 6_000,
      productKey: 'pro',
    })
    const other = await project(t.db)
    await addCostCap(t.db, { projectId: other, scope: 'project', period: 'day', capMicros: 1 })
    await metered(t.db, id, 1, usage())
    await metered(t.db, id, 1, usage())
    const [customer] = await rows<{ id: string }>(
      t.db,
      sql`select id from customers where project_id = ${id} and telegram_user_id = ${USER}`,
    )
    await t.db.insert(subscriptions).values({
      projectId: id,
      customerId: Number(customer!.id),
      productId: crypto.randomUUID(),
      productKey: 'pro',
      firstChargeId: key(),
      currentPeriodEnd: new Date(Date.now() + 86_400_000),
    })
    expect(await codeOf(metered(t.db, id, 1, usage()))).toMatchObject({
      code: 'COST_CAP_REACHED',
      scope: 'product',
    })
  })

  it('a cap of 0 or a negative value is refused naming capMicros', async () => {
    const id = await project(t.db)
    for (const capMicros of [0, -5, 1.5])
      expect(
        await codeOf(
          addCostCap(t.db, { projectId: id, scope: 'project', period: 'day', capMicros }),
        ),
      ).toMatchObject({ code: 'INVALID_INPUT', field: 'capMicros' })
  })

  it.runIf(onPostgres)(
    'under concurrency on PostgreSQL: exactly at the cap, never past it',
    async () => {
      const id = await project(t.db)
      await addCostCap(t.db, { projectId: id, scope: 'project', period: 'day', capMicros: 60_000 })
      const results = await Promise.allSettled(
        Array.from({ length: 25 }, () => metered(t.db, id, 1, usage())),
      )
      const ok = results.filter((r) => r.status === 'fulfilled').length
      const refused = results.filter(
        (r) =>
          r.status === 'rejected' && (r.reason as { code?: string }).code === 'COST_CAP_REACHED',
      ).length
      expect(ok).toBe(10)
      expect(refused).toBe(15)
      const [spent] = await rows<{ cost: string }>(
        t.db,
        sql`select sum(cost_micros) cost from ledger_entries where project_id = ${id}`,
      )
      expect(Number(spent!.cost)).toBe(60_000)
      expect(await ledgerMismatches(t.db)).toEqual([])
    },
    300_000,
  )
})

describe('the margin floor', () => {
  const price: ModelPrice = {
    provider: 'acme',
    model: 'answer-1',
    inputPerMillionMicros: 2_000_000,
    outputPerMillionMicros: 8_000_000,
    cachedInputPerMillionMicros: null,
    source: 'book',
  }

  it('the largest maxTokens keeps the floor exactly; one more token breaks it', () => {
    for (const [held, floor, input] of [
      [100_000, 30, 1000],
      [13_000, 50, 0],
      [7_777, 0, 333],
      [1_000_000, 99, 10],
    ] as const) {
      const max = marginFloorMaxTokens({
        floorPercent: floor,
        heldValueMicros: held,
        price,
        inputTokens: input,
      })
      const cost = (output: number) =>
        costOf(price, {
          provider: 'acme',
          model: 'answer-1',
          inputTokens: input,
          outputTokens: output,
        })
      expect(cost(max) * 100).toBeLessThanOrEqual(held * (100 - floor))
      expect(cost(max + 1) * 100).toBeGreaterThan(held * (100 - floor))
    }
  })

  it('caps the request, or refuses it (MARGIN_FLOOR_BREACHED) when no output keeps the floor', () => {
    const base = {
      feature: 'answer',
      floorPercent: 50,
      heldValueMicros: 10_000,
      price,
      inputTokens: 1000,
    }
    // Budget 5000 micro-USD: 2000 for the input, 3000 / 8 per token = 375 tokens.
    expect(checkMarginFloor({ ...base, requestedMaxTokens: 1000, mode: 'cap' })).toEqual({
      maxTokens: 375,
      capped: true,
    })
    expect(checkMarginFloor({ ...base, requestedMaxTokens: 100, mode: 'refuse' })).toEqual({
      maxTokens: 100,
      capped: false,
    })
    expect(() => checkMarginFloor({ ...base, requestedMaxTokens: 1000, mode: 'refuse' })).toThrow(
      expect.objectContaining({ code: 'MARGIN_FLOOR_BREACHED' }),
    )
    expect(() =>
      checkMarginFloor({ ...base, inputTokens: 10_000, mode: 'cap', requestedMaxTokens: 10 }),
    ).toThrow(expect.objectContaining({ code: 'MARGIN_FLOOR_BREACHED' }))
  })
})

describe('margin alerts', () => {
  it('a customer whose cost passes their revenue raises one event a day', async () => {
    const id = await createProject(t.db)
    await grantCredits(t.db, {
      projectId: id,
      telegramUserId: USER,
      amount: 100,
      reason: 'pack',
      source: 'manual',
      actor: 'test',
      idempotencyKey: key(),
      valueMicros: 10_000,
    })
    // 10 credits earn 1000 micro-USD; the call costs 900, then 900 more: cost passes revenue.
    await metered(t.db, id, 10, usage({ costMicros: 900 }))
    const unprofitable = () =>
      t.db
        .select()
        .from(events)
        .where(and(eq(events.projectId, id), eq(events.type, 'margin.customer_unprofitable')))
    expect(await unprofitable()).toHaveLength(0)
    await metered(t.db, id, 10, usage({ costMicros: 1_200 }))
    await metered(t.db, id, 10, usage({ costMicros: 1_200 }))
    const raised = await unprofitable()
    expect(raised).toHaveLength(1)
    expect(raised[0]!.payload).toMatchObject({ revenueMicros: 2_000, costMicros: 2_100 })
  })

  it('a day whose margin falls below the project threshold: one event for the project and the feature', async () => {
    const id = await project(t.db, { marginAlertPercent: 50 })
    const value = await grantCredits(t.db, {
      projectId: id,
      telegramUserId: USER,
      amount: 10,
      reason: 'pack',
      source: 'manual',
      actor: 'test',
      idempotencyKey: key(),
      valueMicros: 10_000,
      priority: 100,
    })
    expect(value.amount).toBe(10)
    const now = new Date()
    await transact(t.db, async (tx) => {
      const customer = await lockCustomer(tx, id, USER)
      const allocations = await takeFromLots(tx, customer, 10, now)
      return appendEntry(tx, customer, {
        kind: 'consume',
        amount: -10,
        lots: debit(allocations),
        reason: 'answer',
        actor: 'test',
        metadata: { feature: 'answer' },
        usage: usage({ costMicros: 6_000 }),
      })
    })
    const day = now.toISOString().slice(0, 10)
    expect(await checkMarginAlerts(t.db, { projectId: id, day })).toBe(2)
    expect(await checkMarginAlerts(t.db, { projectId: id, day })).toBe(0)
    const alerts = await t.db
      .select()
      .from(events)
      .where(and(eq(events.projectId, id), eq(events.type, 'margin.below_threshold')))
    expect(alerts.map((a) => (a.payload as { subject: string }).subject).sort()).toEqual([
      'feature',
      'project',
    ])
  })
})
