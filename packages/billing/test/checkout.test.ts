import { customers } from '@e-stars/db'
import { and, eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  archiveProduct,
  createInvoice,
  createProduct,
  InvalidInput,
  listProducts,
  PRECHECK_MESSAGES,
  type PreCheckoutQueryInput,
  ProductKeyTaken,
  precheck,
  recordPayment,
  updateProduct,
} from '../src/index.ts'
import { key, useDatabase } from './fixtures.ts'
import { ALICE, BOB, secrets, shopProject, startTestBot, useSandbox } from './payments-fixtures.ts'

const t = useDatabase()
const s = useSandbox()
let projectId: string
let bot: ReturnType<typeof startTestBot>

beforeAll(async () => {
  projectId = await shopProject(t.db)
  bot = startTestBot(s.api, t.db, projectId)
})
afterAll(() => bot?.stop())

const invoiceFor = (productKey: string, telegramUserId = ALICE, extra = {}) =>
  createInvoice(t.db, { projectId, telegramUserId, productKey, secrets, ...extra })
const queryFor = (payload: string, amount: number, extra: Partial<PreCheckoutQueryInput> = {}) => ({
  id: key(),
  from: { id: ALICE },
  currency: 'XTR',
  total_amount: amount,
  invoice_payload: payload,
  ...extra,
})
const check = (query: PreCheckoutQueryInput, now?: Date) =>
  precheck(t.db, { projectId, query, secrets, ...(now ? { now } : {}) })

describe('checkout.precheck', () => {
  it('accepts an open order paid by its customer at its price', async () => {
    const invoice = await invoiceFor('pack_s')
    expect(await check(queryFor(invoice.payload, 50))).toEqual({
      ok: true,
      errorMessage: null,
      orderId: invoice.orderId,
    })
  })

  it('rejects each bad case with a message the user understands', async () => {
    const pack = await invoiceFor('pack_m')
    const other = await shopProject(t.db, 'other')
    const foreign = await createInvoice(t.db, {
      projectId: other,
      telegramUserId: ALICE,
      productKey: 'pack_m',
      secrets,
    })
    const [head, id, mac] = pack.payload.split('.')
    const tampered = `${head}.${id}.${mac!.slice(0, -2)}AA`
    const cases: Array<[string, PreCheckoutQueryInput, string, Date?]> = [
      ['not our payload', queryFor('hello', 100), 'invalid_invoice'],
      ['tampered signature', queryFor(tampered, 100), 'invalid_invoice'],
      ["another project's order", queryFor(foreign.payload, 100), 'invalid_invoice'],
      ['someone else pays', queryFor(pack.payload, 100, { from: { id: BOB } }), 'wrong_user'],
      ['expired', queryFor(pack.payload, 100), 'expired', new Date(Date.now() + 25 * 3_600_000)],
      ['wrong currency', queryFor(pack.payload, 100, { currency: 'USD' }), 'currency'],
      ['wrong amount', queryFor(pack.payload, 99), 'amount'],
    ]
    for (const [what, query, reason, at] of cases) {
      const verdict = await check(query, at)
      expect(verdict, what).toEqual({
        ok: false,
        reason,
        errorMessage: PRECHECK_MESSAGES[reason as keyof typeof PRECHECK_MESSAGES],
      })
    }
    for (const message of Object.values(PRECHECK_MESSAGES)) {
      expect(message.length).toBeLessThanOrEqual(200)
      expect(message).not.toMatch(/order_|null|undefined|error/i)
    }
  })

  it('rejects an archived product, a blocked customer, a lifetime unlock already owned, a subscription already paid', async () => {
    const archivedProduct = await createProduct(t.db, {
      projectId,
      key: `tmp_${Date.now()}`,
      kind: 'pack',
      title: 'Tmp',
      description: 'tmp',
      priceStars: 5,
      credits: 5,
    })
    const archived = await invoiceFor(archivedProduct.key)
    await archiveProduct(t.db, { projectId, key: archivedProduct.key })
    expect(await check(queryFor(archived.payload, 5))).toMatchObject({
      ok: false,
      reason: 'archived',
    })

    const blockedUser = 2_000_077
    const forBlocked = await invoiceFor('pack_s', blockedUser)
    await t.db
      .update(customers)
      .set({ blockedAt: new Date() })
      .where(and(eq(customers.projectId, projectId), eq(customers.telegramUserId, blockedUser)))
    expect(
      await check(queryFor(forBlocked.payload, 50, { from: { id: blockedUser } })),
    ).toMatchObject({
      ok: false,
      reason: 'blocked',
      errorMessage: expect.stringMatching(/support/),
    })

    const lifetime = await invoiceFor('pro_lifetime', BOB)
    const second = await invoiceFor('pro_lifetime', BOB)
    await recordPayment(t.db, {
      projectId,
      secrets,
      via: 'api',
      from: { id: BOB },
      payment: {
        currency: 'XTR',
        total_amount: 500,
        invoice_payload: lifetime.payload,
        telegram_payment_charge_id: `stx-${key()}`,
      },
    })
    expect(await check(queryFor(second.payload, 500, { from: { id: BOB } }))).toMatchObject({
      ok: false,
      reason: 'already_owned',
    })

    const plus = await invoiceFor('plus', BOB, { createInvoiceLink: async () => 'https://t.me/$x' })
    await recordPayment(t.db, {
      projectId,
      secrets,
      via: 'api',
      from: { id: BOB },
      payment: {
        currency: 'XTR',
        total_amount: 200,
        invoice_payload: plus.payload,
        telegram_payment_charge_id: `stx-${key()}`,
        is_recurring: true,
        is_first_recurring: true,
        subscription_expiration_date: Math.floor(Date.now() / 1000) + 30 * 86_400,
      },
    })
    expect(await check(queryFor(plus.payload, 200, { from: { id: BOB } }))).toMatchObject({
      ok: false,
      reason: 'already_subscribed',
    })
  })

  it('through Telegram: the user paying a stale invoice sees the refusal and is not charged', async () => {
    const invoice = await invoiceFor('pack_l')
    await updateProduct(t.db, { projectId, key: 'pack_l', patch: { priceStars: 300 } })
    // The open order keeps its price: paying it is still fine.
    expect(await check(queryFor(invoice.payload, 250))).toMatchObject({ ok: true })
    await archiveProduct(t.db, { projectId, key: 'pack_l' })
    s.sandbox.sendText(ALICE, '/buy')
    const message = await s.api.sendInvoice(invoice.sendInvoice!)
    const paid = await s.sandbox.payInvoice(ALICE, { messageId: message.message_id })
    expect(paid).toEqual({ status: 'rejected', errorMessage: PRECHECK_MESSAGES.archived })
    expect(
      s.sandbox.starTransactions().some((tx) => tx.source?.type === 'user' && tx.amount === 250),
    ).toBe(false)
    await archiveProduct(t.db, { projectId, key: 'pack_l', archived: false })
  })
})

describe('catalog', () => {
  it('validates products against Telegram’s limits and the product kind', async () => {
    const base = {
      projectId,
      kind: 'pack' as const,
      title: 'X',
      description: 'x',
      priceStars: 10,
      credits: 10,
    }
    await expect(createProduct(t.db, { ...base, key: 'Bad Key' })).rejects.toBeInstanceOf(
      InvalidInput,
    )
    await expect(
      createProduct(t.db, { ...base, key: 'long_title', title: 'x'.repeat(33) }),
    ).rejects.toMatchObject({ field: 'title' })
    await expect(
      createProduct(t.db, { ...base, key: 'free', priceStars: 0 }),
    ).rejects.toMatchObject({ field: 'priceStars' })
    await expect(createProduct(t.db, { ...base, key: 'empty', credits: 0 })).rejects.toMatchObject({
      field: 'credits',
    })
    await expect(
      createProduct(t.db, { ...base, key: 'u', kind: 'unlock', credits: 0 }),
    ).rejects.toMatchObject({ field: 'featureKey' })
    await expect(
      createProduct(t.db, {
        ...base,
        key: 'big_sub',
        kind: 'subscription',
        featureKey: 'pro',
        priceStars: 10_001,
      }),
    ).rejects.toMatchObject({ field: 'priceStars' })
    await expect(createProduct(t.db, { ...base, key: 'pack_s' })).rejects.toBeInstanceOf(
      ProductKeyTaken,
    )
    await expect(
      updateProduct(t.db, { projectId, key: 'pack_s', patch: { priceStars: 1.5 } }),
    ).rejects.toMatchObject({ field: 'priceStars' })
  })

  it('a price change never touches an open order; archived products leave the list', async () => {
    const invoice = await invoiceFor('pack_s')
    const updated = await updateProduct(t.db, {
      projectId,
      key: 'pack_s',
      patch: { priceStars: 60, credits: 700 },
    })
    expect(updated).toMatchObject({ priceStars: 60, credits: 700 })
    const outcome = await recordPayment(t.db, {
      projectId,
      secrets,
      via: 'api',
      from: { id: ALICE },
      payment: {
        currency: 'XTR',
        total_amount: 50,
        invoice_payload: invoice.payload,
        telegram_payment_charge_id: `stx-${key()}`,
      },
    })
    expect(outcome).toMatchObject({ status: 'paid', credits: 500 })
    const [order] = (await t.db
      .execute(sql`select status from orders where id = ${invoice.orderId}`)
      .then((r) => (Array.isArray(r) ? r : (r as { rows: unknown[] }).rows))) as Array<{
      status: string
    }>
    expect(order!.status).toBe('paid')
    await archiveProduct(t.db, { projectId, key: 'pack_m' })
    expect((await listProducts(t.db, { projectId })).map((p) => p.key)).not.toContain('pack_m')
    expect(
      (await listProducts(t.db, { projectId, includeArchived: true })).map((p) => p.key),
    ).toContain('pack_m')
  })
})
