import { randomBytes } from 'node:crypto'
import { createOperator, createProject, grantCredits, type UsageRecord } from '@e-stars/billing'
import { type Db, ledgerEntries } from '@e-stars/db'
import { beforeAll, describe, expect, it } from 'vitest'
import { lockCustomer } from '../../billing/src/ledger/customers.ts'
import { appendEntry } from '../../billing/src/ledger/entries.ts'
import { debit, takeFromLots } from '../../billing/src/ledger/lots.ts'
import { transact } from '../../billing/src/ledger/transaction.ts'
import { usageRecordInput } from '../src/inputs.ts'
import { consoleAs, errorOf, useDatabase } from './fixtures.ts'

const t = useDatabase()
const HEAVY = 5_001
const LIGHT = 5_002

/** A metered consume through the ledger's door (appendEntry with a usage record). */
function metered(db: Db, projectId: string, user: number, credits: number, usage: UsageRecord) {
  return transact(db, async (tx) => {
    const customer = await lockCustomer(tx, projectId, user)
    const allocations = await takeFromLots(tx, customer, credits, new Date())
    return appendEntry(tx, customer, {
      kind: 'consume',
      amount: -credits,
      lots: debit(allocations),
      reason: 'answer',
      actor: 'test',
      idempotencyKey: randomBytes(8).toString('hex'),
      metadata: { feature: 'answer' },
      usage,
    })
  })
}

let projectId: string
let otherProjectId: string

beforeAll(async () => {
  projectId = (await createProject(t.db, { name: 'Margins' })).id
  otherProjectId = (await createProject(t.db, { name: 'Elsewhere' })).id
  await createOperator(t.db, { email: 'm-owner@x.io', password: 'password123', projectId })
  await createOperator(t.db, {
    email: 'm-viewer@x.io',
    password: 'password123',
    projectId,
    role: 'viewer',
  })
  await createOperator(t.db, {
    email: 'm-stranger@x.io',
    password: 'password123',
    projectId: otherProjectId,
  })
})

describe('margin procedures', () => {
  it('the price book: an owner sets a price, a negative price is BAD_REQUEST naming the field', async () => {
    const owner = await consoleAs(t.db, 'm-owner@x.io')
    await owner().margin.setPrice({
      projectId,
      provider: 'acme',
      model: 'answer-1',
      inputPerMillionMicros: 2_000_000,
      outputPerMillionMicros: 8_000_000,
    })
    for (const [patch, field] of [
      [{ inputPerMillionMicros: -1 }, 'inputPerMillionMicros'],
      [{ outputPerMillionMicros: 0.5 }, 'outputPerMillionMicros'],
      [{ cachedInputPerMillionMicros: -2 }, 'cachedInputPerMillionMicros'],
      [{ currency: 'EUR' }, 'currency'],
    ] as const) {
      const error = await errorOf(
        owner().margin.setPrice({
          projectId,
          provider: 'acme',
          model: 'answer-2',
          inputPerMillionMicros: 1,
          outputPerMillionMicros: 1,
          ...(patch as object),
        } as never),
      )
      expect(error.code).toBe('BAD_REQUEST')
      expect(error.message).toContain(field)
    }
    const book = await owner().margin.prices({ projectId })
    expect(book.map((p) => p.model)).toEqual(['answer-1'])
    const viewer = await consoleAs(t.db, 'm-viewer@x.io')
    expect(
      (
        await errorOf(
          viewer().margin.setPrice({
            projectId,
            provider: 'acme',
            model: 'x',
            inputPerMillionMicros: 1,
            outputPerMillionMicros: 1,
          }),
        )
      ).code,
    ).toBe('FORBIDDEN')
    expect(
      (await viewer().margin.defaultPrices({ projectId, provider: 'openai' })).length,
    ).toBeGreaterThan(0)
  })

  it('caps: a cap of 0 is BAD_REQUEST naming capMicros; add, list, remove', async () => {
    const owner = await consoleAs(t.db, 'm-owner@x.io')
    const zero = await errorOf(
      owner().margin.addCap({ projectId, scope: 'project', period: 'day', capMicros: 0 }),
    )
    expect(zero.code).toBe('BAD_REQUEST')
    expect(zero.message).toContain('capMicros')
    const missing = await errorOf(
      owner().margin.addCap({ projectId, scope: 'product', period: 'day', capMicros: 5 }),
    )
    expect(missing.code).toBe('BAD_REQUEST')
    expect(missing.message).toContain('productKey')
    const cap = await owner().margin.addCap({
      projectId,
      scope: 'project',
      period: 'month',
      capMicros: 50_000_000,
    })
    expect((await owner().margin.caps({ projectId })).map((c) => c.id)).toEqual([cap.id])
    // Wrong tenant: another project's owner can neither see nor remove it.
    const stranger = await consoleAs(t.db, 'm-stranger@x.io')
    expect((await errorOf(stranger().margin.caps({ projectId }))).code).toBe('FORBIDDEN')
    expect(
      (await errorOf(stranger().margin.removeCap({ projectId: otherProjectId, capId: cap.id })))
        .code,
    ).toBe('NOT_FOUND')
    expect(await owner().margin.removeCap({ projectId, capId: cap.id })).toEqual({ removed: true })
  })

  it('settings: the rate is an assumption until set; bad values are BAD_REQUEST', async () => {
    const owner = await consoleAs(t.db, 'm-owner@x.io')
    expect(await owner().margin.settings({ projectId })).toMatchObject({
      usdPerStarMicros: 13_000,
      usdPerStarSetAt: null,
      unpricedModelPolicy: 'flag',
    })
    const after = await owner().margin.updateSettings({
      projectId,
      usdPerStarMicros: 12_000,
      unpricedModelPolicy: 'refuse',
    })
    expect(after.usdPerStarSetAt).not.toBeNull()
    for (const [patch, field] of [
      [{ usdPerStarMicros: -1 }, 'usdPerStarMicros'],
      [{ marginAlertPercent: 101 }, 'marginAlertPercent'],
      [{ unpricedModelPolicy: 'ignore' }, 'unpricedModelPolicy'],
    ] as const) {
      const error = await errorOf(
        owner().margin.updateSettings({ projectId, ...(patch as object) } as never),
      )
      expect(error.code).toBe('BAD_REQUEST')
      expect(error.message).toContain(field)
    }
    await owner().margin.updateSettings({ projectId, unpricedModelPolicy: 'flag' })
  })

  it('the views agree with the ledger to the micro-dollar; unprofitable customers; CSV', async () => {
    const owner = await consoleAs(t.db, 'm-owner@x.io')
    // Heavy: 100 credits worth 1.00 USD; Light: 100 credits worth 2.00 USD.
    for (const [user, value] of [
      [HEAVY, 1_000_000],
      [LIGHT, 2_000_000],
    ] as const)
      await grantCredits(t.db, {
        projectId,
        telegramUserId: user,
        amount: 100,
        reason: 'pack',
        source: 'manual',
        actor: 'test',
        idempotencyKey: randomBytes(8).toString('hex'),
        valueMicros: value,
      })
    const call = { provider: 'acme', model: 'answer-1', inputTokens: 100_000, outputTokens: 50_000 }
    // Each call: 0.2 + 0.4 = 0.6 USD of cost. Heavy burns 50 credits (0.50 USD) per call, twice.
    await metered(t.db, projectId, HEAVY, 50, call)
    await metered(t.db, projectId, HEAVY, 50, call)
    await metered(t.db, projectId, LIGHT, 10, { ...call, costMicros: 10_000 })
    const summary = await owner().margin.summary({ projectId })
    const entries = (await t.db.select().from(ledgerEntries)).filter(
      (e) => e.projectId === projectId,
    )
    expect(summary.revenueMicros).toBe(
      entries.reduce((s, e) => s + (e.kind === 'hold' ? 0 : (e.revenueMicros ?? 0)), 0),
    )
    expect(summary.costMicros).toBe(entries.reduce((s, e) => s + (e.costMicros ?? 0), 0))
    expect(summary).toMatchObject({
      revenueMicros: 1_200_000,
      costMicros: 1_210_000,
      marginMicros: -10_000,
      acts: 3,
    })
    const byCustomer = await owner().margin.breakdown({ projectId, by: 'customer' })
    expect(byCustomer).toEqual([
      expect.objectContaining({
        key: String(HEAVY),
        revenueMicros: 1_000_000,
        costMicros: 1_200_000,
      }),
      expect.objectContaining({
        key: String(LIGHT),
        revenueMicros: 200_000,
        costMicros: 10_000,
        marginPercent: 95,
      }),
    ])
    const byModel = await owner().margin.breakdown({ projectId, by: 'model' })
    expect(byModel).toEqual([expect.objectContaining({ key: 'acme/answer-1', acts: 3 })])
    const losers = await owner().margin.unprofitableCustomers({ projectId })
    expect(losers.map((l) => l.key)).toEqual([String(HEAVY)])
    const csv = await owner().margin.csv({ projectId, by: 'customer' })
    expect(csv.csv.split('\r\n')[0]).toBe(
      'customer,revenue_micros,cost_micros,margin_micros,revenue_usd,cost_usd,margin_usd,margin_percent,acts',
    )
    expect(csv.csv).toContain(
      `${HEAVY},1000000,1200000,-200000,1.000000,1.200000,-0.200000,-20.00,2`,
    )
    // Another project's console sees none of it.
    const stranger = await consoleAs(t.db, 'm-stranger@x.io')
    expect((await stranger().margin.summary({ projectId: otherProjectId })).revenueMicros).toBe(0)
    expect((await errorOf(stranger().margin.summary({ projectId }))).code).toBe('FORBIDDEN')
  })

  it('usageRecordInput refuses negative, fractional and unknown fields, naming them', () => {
    const good = { provider: 'acme', model: 'a', inputTokens: 1, outputTokens: 2 }
    expect(usageRecordInput.parse(good)).toEqual(good)
    for (const [bad, field] of [
      [{ inputTokens: -1 }, 'inputTokens'],
      [{ outputTokens: 1.5 }, 'outputTokens'],
      [{ costMicros: -1 }, 'costMicros'],
      [{ currency: 'USD' }, 'currency'],
      [{ model: '' }, 'model'],
    ] as const) {
      const result = usageRecordInput.safeParse({ ...good, ...bad })
      expect(result.success).toBe(false)
      expect(JSON.stringify(result.error!.issues)).toContain(field)
    }
  })
})
