import { projects, rows } from '@e-stars/db'
import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  accessEnd,
  consume,
  createInvoice,
  createSecrets,
  generateSecretKey,
  getBalance,
  getPayment,
  listPayments,
  NotFound,
  recordPayment,
  recordRefund,
  refundPayment,
  release,
  reserve,
  settle,
} from '../src/index.ts'
import { countEntries, fund, key, ledgerMismatches, onPostgres, useDatabase } from './fixtures.ts'
import {
  ALICE,
  BOB,
  buy,
  type DeliveredPayment,
  secrets,
  shopProject,
  startTestBot,
  useSandbox,
} from './payments-fixtures.ts'

const t = useDatabase()
const s = useSandbox()
const env = () => ({ sandbox: s.sandbox, api: s.api, db: t.db })
let projectId: string
let bot: ReturnType<typeof startTestBot>

beforeAll(async () => {
  projectId = await shopProject(t.db)
  bot = startTestBot(s.api, t.db, projectId)
})
afterAll(() => bot?.stop())

const record = (delivered: DeliveredPayment, via: 'api' | 'relay' | 'reconciliation' = 'api') =>
  recordPayment(t.db, { projectId, secrets, via, ...delivered })

async function payAndDeliver(userId: number, productKey: string) {
  const { paid, invoice } = await buy(env(), projectId, userId, productKey)
  if (paid.status !== 'paid') throw new Error(`payment ${paid.status}`)
  const delivered = await bot.payment(paid.chargeId)
  return { chargeId: paid.chargeId, delivered, invoice, outcome: await record(delivered) }
}

async function grantsOf(chargeId: string) {
  const [row] = await rows<{ n: string; credits: string | null }>(
    t.db,
    sql`select count(*) n, sum(g.amount) credits from grants g join payments p
          on p.project_id = g.project_id and p.id = g.payment_id
        where p.telegram_payment_charge_id = ${chargeId}`,
  )
  return { lots: Number(row!.n), credits: Number(row!.credits ?? 0) }
}

describe('paying a pack', () => {
  it('pay a pack → the balance rises once, with a lot linked to the payment', async () => {
    const before = await getBalance(t.db, { projectId, telegramUserId: ALICE }).catch(() => null)
    const { outcome, chargeId } = await payAndDeliver(ALICE, 'pack_s')
    expect(outcome).toMatchObject({
      status: 'paid',
      flag: null,
      duplicate: false,
      productKey: 'pack_s',
      credits: 500,
      available: (before?.available ?? 0) + 500,
    })
    expect(await grantsOf(chargeId)).toEqual({ lots: 1, credits: 500 })
    const payment = await getPayment(t.db, { projectId, telegramPaymentChargeId: chargeId })
    expect(payment).toMatchObject({ status: 'paid', amountStars: 50, recordedVia: 'api' })
  })

  it('the same successful_payment delivered 10 times, some concurrently, via API, relay and reconciliation → one payment, one grant', async () => {
    const { delivered, chargeId, outcome } = await payAndDeliver(BOB, 'pack_m')
    const vias = ['api', 'relay', 'reconciliation'] as const
    const concurrent = await Promise.all(
      Array.from({ length: 6 }, (_, i) => record(delivered, vias[i % 3])),
    )
    const sequential = []
    for (let i = 0; i < 3; i++) sequential.push(await record(delivered, vias[i]))
    for (const replay of [...concurrent, ...sequential]) {
      expect(replay).toMatchObject({
        paymentId: outcome.paymentId,
        duplicate: true,
        credits: 1200,
        status: 'paid',
      })
    }
    expect(await grantsOf(chargeId)).toEqual({ lots: 1, credits: 1200 })
    const list = await listPayments(t.db, { projectId, telegramUserId: BOB })
    expect(list.payments.filter((p) => p.telegramPaymentChargeId === chargeId)).toHaveLength(1)
    expect((await getBalance(t.db, { projectId, telegramUserId: BOB })).available).toBe(
      outcome.available,
    )
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('paying the same pack invoice twice makes two charges and grants twice (a second pack is fine)', async () => {
    const { invoice, paid } = await buy(env(), projectId, ALICE, 'pack_s')
    expect(paid.status).toBe('paid')
    const first = await record(await bot.payment((paid as { chargeId: string }).chargeId))
    // An old invoice paid again: same payload, new charge id.
    const link = await s.api.createInvoiceLink({
      title: 'Pack S',
      description: 'again',
      payload: invoice.payload,
      currency: 'XTR',
      prices: [{ label: 'Pack S', amount: 50 }],
    })
    const again = await s.sandbox.payInvoice(ALICE, { invoiceLink: link })
    expect(again.status).toBe('paid')
    const second = await record(await bot.payment((again as { chargeId: string }).chargeId))
    expect(second).toMatchObject({ duplicate: false, credits: 500, orderId: first.orderId })
    expect(second.available).toBe(first.available + 500)
  })

  it('stores a payment that matches no order as unmatched and flagged, granting nothing', async () => {
    const foreign = await record({
      payment: {
        currency: 'XTR',
        total_amount: 10,
        invoice_payload: 'legacy-invoice-42',
        telegram_payment_charge_id: `stx-foreign-${key()}`,
        provider_payment_charge_id: 'p1',
      },
      from: { id: 3_000_001, first_name: 'Carol' },
    })
    expect(foreign).toMatchObject({ status: 'unmatched', flag: 'no_order', credits: 0 })
    const forged = await record({
      payment: {
        currency: 'XTR',
        total_amount: 10,
        invoice_payload: 'o1.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA',
        telegram_payment_charge_id: `stx-forged-${key()}`,
      },
      from: { id: 3_000_001, first_name: 'Carol' },
    })
    expect(forged).toMatchObject({ status: 'unmatched', flag: 'bad_signature', credits: 0 })
    const flagged = await listPayments(t.db, {
      projectId,
      flagged: true,
      telegramUserId: 3_000_001,
    })
    expect(flagged.payments).toHaveLength(2)
  })

  it("another project's order reference is unmatched here (tenant isolation)", async () => {
    const other = await shopProject(t.db, 'other shop')
    const invoice = await createInvoice(t.db, {
      projectId: other,
      telegramUserId: ALICE,
      productKey: 'pack_s',
      secrets,
    })
    const outcome = await record({
      payment: {
        currency: 'XTR',
        total_amount: 50,
        invoice_payload: invoice.payload,
        telegram_payment_charge_id: `stx-cross-${key()}`,
      },
      from: { id: ALICE, first_name: 'Alice' },
    })
    expect(outcome).toMatchObject({ status: 'unmatched', flag: 'bad_signature', credits: 0 })
    await expect(
      refundPayment(t.db, {
        projectId: other,
        telegramPaymentChargeId: outcome.telegramPaymentChargeId,
        by: 'operator:x',
        reason: 'test',
        botApi: s.api,
      }),
    ).rejects.toBeInstanceOf(NotFound)
  })

  it('an amount that differs from the order is stored unmatched (amount_mismatch)', async () => {
    const invoice = await createInvoice(t.db, {
      projectId,
      telegramUserId: ALICE,
      productKey: 'pack_l',
      secrets,
    })
    const outcome = await record({
      payment: {
        currency: 'XTR',
        total_amount: 1,
        invoice_payload: invoice.payload,
        telegram_payment_charge_id: `stx-cheap-${key()}`,
      },
      from: { id: ALICE, first_name: 'Alice' },
    })
    expect(outcome).toMatchObject({ status: 'unmatched', flag: 'amount_mismatch', credits: 0 })
  })
})

describe('unlocks', () => {
  it('a 30-day unlock grants the entitlement; a second one extends it to 60 days', async () => {
    const user = 2_000_003
    s.sandbox.createUser({ id: user, firstName: 'Dan' })
    const first = await payAndDeliver(user, 'pro_30d')
    const second = await payAndDeliver(user, 'pro_30d')
    const end1 = Date.parse(first.outcome.entitlement!.endsAt!)
    const end2 = Date.parse(second.outcome.entitlement!.endsAt!)
    expect(Math.round((end2 - end1) / 86_400_000)).toBe(30)
  })

  it('policy: a second lifetime unlock is recorded and flagged for refund, and grants nothing', async () => {
    const user = 2_000_004
    s.sandbox.createUser({ id: user, firstName: 'Eve' })
    const first = await payAndDeliver(user, 'pro_lifetime')
    expect(first.outcome.entitlement).toEqual({ featureKey: 'pro', endsAt: null })
    // A second invoice cannot be issued …
    await expect(
      createInvoice(t.db, { projectId, telegramUserId: user, productKey: 'pro_lifetime', secrets }),
    ).rejects.toMatchObject({ code: 'PRODUCT_UNAVAILABLE', why: 'already_owned' })
    // … but an old one paid again still arrives: recorded, flagged, nothing granted.
    const again = await s.sandbox.payInvoice(user, {
      invoiceLink: await s.api.createInvoiceLink({
        title: 'Pro for life',
        description: 'again',
        payload: first.invoice.payload,
        currency: 'XTR',
        prices: [{ label: 'Pro', amount: 500 }],
      }),
    })
    // Pre-checkout refuses it when it passes through the bot.
    expect(again).toMatchObject({
      status: 'rejected',
      errorMessage: expect.stringMatching(/already own/),
    })
    const late = await record({
      payment: {
        currency: 'XTR',
        total_amount: 500,
        invoice_payload: first.invoice.payload,
        telegram_payment_charge_id: `stx-second-lifetime-${key()}`,
      },
      from: { id: user, first_name: 'Eve' },
    })
    expect(late).toMatchObject({
      status: 'paid',
      flag: 'duplicate_lifetime_unlock',
      entitlement: null,
      credits: 0,
    })
  })
})

describe('refunds', () => {
  it.runIf(onPostgres)(
    'no transaction is open while Telegram refunds: the customer and the payment are free to lock meanwhile',
    async () => {
      const user = 2_000_041
      s.sandbox.createUser({ id: user, firstName: 'Ida' })
      const pack = await payAndDeliver(user, 'pack_s')
      const lockedDuringCall: string[] = []
      const refund = await refundPayment(t.db, {
        projectId,
        telegramPaymentChargeId: pack.chargeId,
        by: 'operator:op-1',
        reason: 'customer asked',
        botApi: {
          async refundStarPayment(params) {
            for (const table of ['customers', 'payments']) {
              const where =
                table === 'customers'
                  ? sql`telegram_user_id = ${user}`
                  : sql`telegram_payment_charge_id = ${pack.chargeId}`
              try {
                await t.db.execute(
                  sql`select 1 from ${sql.identifier(table)} where project_id = ${projectId} and ${where} for update nowait`,
                )
              } catch {
                lockedDuringCall.push(table)
              }
            }
            return s.api.refundStarPayment(params)
          },
        },
      })
      expect(lockedDuringCall).toEqual([])
      expect(refund).toMatchObject({
        alreadyRefunded: false,
        voided: 500,
        refundedBy: 'operator:op-1',
      })
    },
  )

  it('Telegram refusing a refund leaves the payment as it was (no request left behind)', async () => {
    const user = 2_000_042
    s.sandbox.createUser({ id: user, firstName: 'Jan' })
    const pack = await payAndDeliver(user, 'pack_s')
    await expect(
      refundPayment(t.db, {
        projectId,
        telegramPaymentChargeId: pack.chargeId,
        by: 'operator:op-1',
        reason: 'customer asked',
        botApi: {
          async refundStarPayment() {
            throw Object.assign(new Error('Bad Request: CHARGE_NOT_FOUND'), {
              name: 'TelegramError',
              error_code: 400,
              description: 'Bad Request: CHARGE_NOT_FOUND',
            })
          },
        },
      }),
    ).rejects.toThrow()
    const payment = await getPayment(t.db, { projectId, telegramPaymentChargeId: pack.chargeId })
    expect(payment).toMatchObject({ status: 'paid', refundedBy: null, refundReason: null })
  })

  it('operator refund → the lot is revoked, the entitlement ends, the sandbox shows the refund; again → no second revocation', async () => {
    const user = 2_000_010
    s.sandbox.createUser({ id: user, firstName: 'Fay' })
    const pack = await payAndDeliver(user, 'pack_s')
    const unlock = await payAndDeliver(user, 'pro_30d')
    const refund = await refundPayment(t.db, {
      projectId,
      telegramPaymentChargeId: pack.chargeId,
      by: 'operator:op-1',
      reason: 'customer asked',
      botApi: s.api,
    })
    expect(refund).toMatchObject({
      alreadyRefunded: false,
      voided: 500,
      spent: 0,
      available: 0,
      refundedBy: 'operator:op-1',
      refundReason: 'customer asked',
    })
    const ledger = s.sandbox.starTransactions()
    expect(ledger.filter((r) => r.id === pack.chargeId && r.receiver)).toHaveLength(1)
    const again = await refundPayment(t.db, {
      projectId,
      telegramPaymentChargeId: pack.chargeId,
      by: 'operator:op-2',
      reason: 'double click',
      botApi: s.api,
    })
    expect(again).toMatchObject({ alreadyRefunded: true, voided: 500, refundedBy: 'operator:op-1' })
    const revokes = await rows<{ n: string }>(
      t.db,
      sql`select count(*) n from ledger_entries where kind = 'revoke' and metadata->>'paymentId' = ${String(pack.outcome.paymentId)}`,
    )
    expect(Number(revokes[0]!.n)).toBe(1)
    // The sandbox also sent refunded_payment; ingesting it changes nothing more.
    const update = await bot.refund(pack.chargeId)
    const ingested = await recordRefund(t.db, { projectId, via: 'api', ...update })
    expect(ingested.alreadyRefunded).toBe(true)

    const unlockRefund = await refundPayment(t.db, {
      projectId,
      telegramPaymentChargeId: unlock.chargeId,
      by: 'operator:op-1',
      reason: 'not used',
      botApi: s.api,
    })
    expect(unlockRefund.entitlementsRevoked).toBe(1)
    const [customer] = await rows<{ id: string }>(
      t.db,
      sql`select id from customers where project_id = ${projectId} and telegram_user_id = ${user}`,
    )
    expect(await accessEnd(t.db, projectId, Number(customer!.id), 'pro', new Date())).toBeNull()
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('an already-refunded charge at Telegram (CHARGE_ALREADY_REFUNDED) still revokes locally, once', async () => {
    const user = 2_000_011
    s.sandbox.createUser({ id: user, firstName: 'Gus' })
    const pack = await payAndDeliver(user, 'pack_s')
    // Telegram refunded it but the refunded_payment never reached us.
    s.sandbox.chargeback(pack.chargeId)
    const refund = await refundPayment(t.db, {
      projectId,
      telegramPaymentChargeId: pack.chargeId,
      by: 'operator:op-1',
      reason: 'dispute',
      botApi: s.api,
    })
    expect(refund).toMatchObject({ alreadyRefunded: false, voided: 500, available: 0 })
  })

  it('Telegram-side refund (refunded_payment) → same outcome as an operator refund', async () => {
    const user = 2_000_012
    s.sandbox.createUser({ id: user, firstName: 'Hal' })
    const unlock = await payAndDeliver(user, 'pro_30d')
    const pack = await payAndDeliver(user, 'pack_m')
    s.sandbox.refundPayment(pack.chargeId)
    s.sandbox.refundPayment(unlock.chargeId)
    const packRefund = await recordRefund(t.db, {
      projectId,
      via: 'api',
      ...(await bot.refund(pack.chargeId)),
    })
    expect(packRefund).toMatchObject({
      alreadyRefunded: false,
      voided: 1200,
      refundedBy: 'telegram',
    })
    const unlockRefund = await recordRefund(t.db, {
      projectId,
      via: 'relay',
      ...(await bot.refund(unlock.chargeId)),
    })
    expect(unlockRefund.entitlementsRevoked).toBe(1)
    const twice = await recordRefund(t.db, {
      projectId,
      via: 'api',
      ...(await bot.refund(pack.chargeId)),
    })
    expect(twice.alreadyRefunded).toBe(true)
    expect(await countEntries(t.db, projectId, 'revoke')).toBeGreaterThan(0)
    expect(
      (await getPayment(t.db, { projectId, telegramPaymentChargeId: pack.chargeId })).status,
    ).toBe('refunded')
  })

  it('a refund of a charge never recorded stores it refunded and flagged; the late payment grants nothing', async () => {
    const chargeId = `stx-late-${key()}`
    const from = { id: 3_000_002, first_name: 'Ivy' }
    const refund = await recordRefund(t.db, {
      projectId,
      via: 'relay',
      from,
      refund: {
        currency: 'XTR',
        total_amount: 50,
        invoice_payload: 'x',
        telegram_payment_charge_id: chargeId,
      },
    })
    expect(refund).toMatchObject({ alreadyRefunded: false, voided: 0, spent: 0 })
    const late = await record({
      payment: {
        currency: 'XTR',
        total_amount: 50,
        invoice_payload: 'x',
        telegram_payment_charge_id: chargeId,
      },
      from,
    })
    expect(late).toMatchObject({
      duplicate: true,
      status: 'refunded',
      flag: 'refunded_before_recorded',
      credits: 0,
    })
  })
})

describe('refund after partial spend', () => {
  const spend = (userId: number, amount: number) =>
    consume(t.db, {
      projectId,
      telegramUserId: userId,
      amount,
      reason: 'AI answer',
      actor: 'test',
      idempotencyKey: key(),
    })

  it('debt policy: spent credits come back from other lots first, the rest is owed and repaid by the next grant', async () => {
    const user = 2_000_020
    s.sandbox.createUser({ id: user, firstName: 'Jo' })
    const pack = await payAndDeliver(user, 'pack_s') // 500
    await fund(t.db, projectId, user, 100) // another lot, burns after? same expiry: oldest first
    await spend(user, 450) // 450 from the pack (older lot first)
    const refund = await refundPayment(t.db, {
      projectId,
      telegramPaymentChargeId: pack.chargeId,
      by: 'operator:op-1',
      reason: 'chargeback threat',
      botApi: s.api,
    })
    expect(refund).toMatchObject({
      policy: 'debt',
      voided: 50,
      spent: 450,
      repaidFromOtherLots: 100,
      debtAdded: 350,
      available: 0,
      debt: 350,
    })
    const payment = await getPayment(t.db, { projectId, telegramPaymentChargeId: pack.chargeId })
    expect(payment).toMatchObject({ refundShortfall: 450, refundPolicy: 'debt' })
    const next = await payAndDeliver(user, 'pack_s')
    expect(next.outcome).toMatchObject({ available: 150, debt: 0 })
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('credits of another lot held when a refund leaves a debt repay it when the hold releases or settles', async () => {
    const user = 2_000_025
    s.sandbox.createUser({ id: user, firstName: 'Di' })
    const pack = await payAndDeliver(user, 'pack_s') // 500
    await fund(t.db, projectId, user, 100)
    await spend(user, 490) // 490 from the pack, 10 left in it, 100 in the other lot
    const base = { projectId, telegramUserId: user, reason: 'AI answer', actor: 'test' }
    const first = await reserve(t.db, { ...base, amount: 60, idempotencyKey: key() }) // 10 pack + 50 other
    const second = await reserve(t.db, { ...base, amount: 50, idempotencyKey: key() }) // 50 other
    const refund = await refundPayment(t.db, {
      projectId,
      telegramPaymentChargeId: pack.chargeId,
      by: 'operator:op-1',
      reason: 'chargeback threat',
      botApi: s.api,
    })
    expect(refund).toMatchObject({
      spent: 490,
      repaidFromOtherLots: 0,
      debtAdded: 490,
      available: 0,
    })
    const released = await release(t.db, {
      projectId,
      actor: 'test',
      holdId: first.holdId,
      idempotencyKey: key(),
    })
    expect(released).toMatchObject({ returned: 0, repaid: 50, available: 0, debt: 440 })
    const settled = await settle(t.db, {
      projectId,
      actor: 'test',
      holdId: second.holdId,
      amount: 20,
      idempotencyKey: key(),
    })
    expect(settled).toMatchObject({ charged: 20, returned: 0, repaid: 30, available: 0, debt: 410 })
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('credits of the refunded lot sitting in an open hold are voided with it, not counted as spent', async () => {
    const user = 2_000_031
    s.sandbox.createUser({ id: user, firstName: 'Hal' })
    const pack = await payAndDeliver(user, 'pack_s') // 500
    await fund(t.db, projectId, user, 100) // younger lot
    const hold = await reserve(t.db, {
      projectId,
      telegramUserId: user,
      amount: 550,
      reason: 'AI answer',
      actor: 'test',
      idempotencyKey: key(),
    }) // 500 from the pack, 50 from the younger lot
    const refund = await refundPayment(t.db, {
      projectId,
      telegramPaymentChargeId: pack.chargeId,
      by: 'operator:op-1',
      reason: 'test',
      botApi: s.api,
    })
    expect(refund).toMatchObject({
      voided: 0,
      spent: 0,
      debtAdded: 0,
      available: 50,
      held: 50,
      debt: 0,
    })
    const settled = await settle(t.db, {
      projectId,
      holdId: hold.holdId,
      amount: 30,
      actor: 'test',
      idempotencyKey: key(),
    })
    expect(settled).toMatchObject({
      reserved: 50,
      charged: 30,
      returned: 20,
      available: 70,
      held: 0,
      debt: 0,
    })
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('absorb policy: the spent part is recorded on the payment and reported; no debt', async () => {
    const absorbing = await shopProject(t.db, 'absorbing shop')
    await t.db.update(projects).set({ refundPolicy: 'absorb' }).where(eq(projects.id, absorbing))
    const user = 2_000_021
    s.sandbox.createUser({ id: user, firstName: 'Kim' })
    const invoice = await createInvoice(t.db, {
      projectId: absorbing,
      telegramUserId: user,
      productKey: 'pack_s',
      secrets,
    })
    const paid = await recordPayment(t.db, {
      projectId: absorbing,
      secrets,
      via: 'api',
      from: { id: user, first_name: 'Kim' },
      payment: {
        currency: 'XTR',
        total_amount: 50,
        invoice_payload: invoice.payload,
        telegram_payment_charge_id: `stx-absorb-${key()}`,
      },
    })
    await consume(t.db, {
      projectId: absorbing,
      telegramUserId: user,
      amount: 200,
      reason: 'AI',
      actor: 'test',
      idempotencyKey: key(),
    })
    const refund = await recordRefund(t.db, {
      projectId: absorbing,
      via: 'api',
      from: { id: user, first_name: 'Kim' },
      refund: {
        currency: 'XTR',
        total_amount: 50,
        invoice_payload: invoice.payload,
        telegram_payment_charge_id: paid.telegramPaymentChargeId,
      },
    })
    expect(refund).toMatchObject({
      policy: 'absorb',
      voided: 300,
      spent: 200,
      absorbed: 200,
      debtAdded: 0,
      available: 0,
      debt: 0,
    })
    const payment = await getPayment(t.db, {
      projectId: absorbing,
      telegramPaymentChargeId: paid.telegramPaymentChargeId,
    })
    expect(payment).toMatchObject({
      status: 'refunded',
      refundShortfall: 200,
      refundPolicy: 'absorb',
    })
  })
})

describe.skipIf(!onPostgres)('concurrency on PostgreSQL', () => {
  it('an operator refund racing the refunded_payment update revokes once', async () => {
    const user = 2_000_030
    s.sandbox.createUser({ id: user, firstName: 'Lou' })
    const pack = await payAndDeliver(user, 'pack_s')
    const from = { id: user, first_name: 'Lou' }
    const results = await Promise.all([
      refundPayment(t.db, {
        projectId,
        telegramPaymentChargeId: pack.chargeId,
        by: 'operator:a',
        reason: 'x',
        botApi: s.api,
      }),
      recordRefund(t.db, { projectId, via: 'relay', from, refund: { ...pack.delivered.payment } }),
      recordRefund(t.db, { projectId, via: 'api', from, refund: { ...pack.delivered.payment } }),
    ])
    // Whoever got there first says it refunded; the ledger below has exactly one revocation.
    expect(results.some((r) => !r.alreadyRefunded)).toBe(true)
    const revokes = await rows<{ n: string }>(
      t.db,
      sql`select count(*) n from ledger_entries where kind = 'revoke' and metadata->>'paymentId' = ${String(pack.outcome.paymentId)}`,
    )
    expect(Number(revokes[0]!.n)).toBe(1)
    expect(await ledgerMismatches(t.db)).toEqual([])
  })
})
if (!onPostgres)
  console.warn(
    'payments.test: concurrency cases need TEST_DATABASE_URL (PGlite serializes everything)',
  )

it('bot tokens are encrypted per project and never readable elsewhere', () => {
  const box = createSecrets(generateSecretKey())
  const sealed = box.encryptBotToken('p1', '123:secret')
  expect(sealed).not.toContain('secret')
  expect(box.decryptBotToken('p1', sealed)).toBe('123:secret')
  expect(() => box.decryptBotToken('p2', sealed)).toThrow()
  expect(() => createSecrets(generateSecretKey()).decryptBotToken('p1', sealed)).toThrow()
})
