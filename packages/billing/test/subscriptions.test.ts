import { rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  accessEnd,
  cancelSubscription,
  createInvoice,
  getBalance,
  listSubscriptions,
  recordPayment,
  recordRefund,
  refundPayment,
} from '../src/index.ts'
import { ledgerMismatches, useDatabase } from './fixtures.ts'
import { ALICE, BOB, secrets, shopProject, startTestBot, useSandbox } from './payments-fixtures.ts'

const t = useDatabase()
const s = useSandbox()
let projectId: string
let bot: ReturnType<typeof startTestBot>
const DAY = 86_400_000

beforeAll(async () => {
  projectId = await shopProject(t.db)
  bot = startTestBot(s.api, t.db, projectId)
})
afterAll(() => bot?.stop())

/** The engine runs on the sandbox's clock, so advancing Telegram's time advances ours. */
const now = () => new Date(s.sandbox.clock.now())
const customerId = async (telegramUserId: number) => {
  const [row] = await rows<{ id: string }>(
    t.db,
    sql`select id from customers where project_id = ${projectId} and telegram_user_id = ${telegramUserId}`,
  )
  return Number(row!.id)
}
const deliver = async (chargeId: string) =>
  recordPayment(t.db, {
    projectId,
    secrets,
    via: 'api',
    now: now(),
    ...(await bot.payment(chargeId)),
  })

async function subscribe(userId: number) {
  const invoice = await createInvoice(t.db, {
    projectId,
    telegramUserId: userId,
    productKey: 'plus',
    secrets,
    now: now(),
    createInvoiceLink: (params) => s.api.createInvoiceLink(params),
  })
  const paid = await s.sandbox.payInvoice(userId, { invoiceLink: invoice.invoiceLink! })
  if (paid.status !== 'paid') throw new Error(paid.status)
  return { invoice, chargeId: paid.chargeId, expiration: paid.subscriptionExpirationDate! }
}

describe('subscriptions', () => {
  it('first payment, two renewals, cancellation via editUserStarSubscription, access ends at expiry', async () => {
    const first = await subscribe(ALICE)
    const start = await deliver(first.chargeId)
    expect(start).toMatchObject({
      status: 'paid',
      credits: 1500,
      entitlement: { featureKey: 'pro', endsAt: new Date(first.expiration * 1000).toISOString() },
    })
    const [subscription] = await listSubscriptions(t.db, {
      projectId,
      telegramUserId: ALICE,
      now: now(),
    })
    expect(subscription).toMatchObject({
      productKey: 'plus',
      status: 'active',
      active: true,
      firstChargeId: first.chargeId,
    })

    const periodEnds: number[] = [first.expiration]
    for (let i = 0; i < 2; i++) {
      s.sandbox.advanceClock(30 * DAY - 60_000)
      const renewal = s.sandbox.renewSubscription(first.chargeId)
      if (renewal.status !== 'renewed') throw new Error(renewal.status)
      const outcome = await deliver(renewal.chargeId)
      expect(outcome).toMatchObject({
        credits: 1500,
        subscriptionId: subscription!.id,
        duplicate: false,
      })
      expect(outcome.entitlement!.endsAt).toBe(
        new Date(renewal.expirationDate * 1000).toISOString(),
      )
      periodEnds.push(renewal.expirationDate)
    }
    expect(periodEnds[2]! - periodEnds[0]!).toBe(60 * 86_400)
    const lots = await rows<{ source: string; amount: string }>(
      t.db,
      sql`select source, amount from grants where project_id = ${projectId} and customer_id = ${await customerId(ALICE)} order by id`,
    )
    expect(lots.map((l) => l.source)).toEqual(['payment', 'renewal', 'renewal'])
    expect(
      (await getBalance(t.db, { projectId, telegramUserId: ALICE, now: now() })).available,
    ).toBe(4500)

    const canceled = await cancelSubscription(t.db, {
      projectId,
      subscriptionId: subscription!.id,
      botApi: s.api,
      now: now(),
    })
    expect(canceled).toMatchObject({ status: 'canceled', active: true })
    expect(s.sandbox.subscription(first.chargeId).canceled).toBe(true)
    s.sandbox.advanceClock(30 * DAY)
    expect(s.sandbox.renewSubscription(first.chargeId)).toMatchObject({ status: 'canceled' })

    const lastEnd = new Date(periodEnds[2]! * 1000)
    const id = await customerId(ALICE)
    expect(await accessEnd(t.db, projectId, id, 'pro', new Date(lastEnd.getTime() - 1000))).toEqual(
      lastEnd,
    )
    expect(
      await accessEnd(t.db, projectId, id, 'pro', new Date(lastEnd.getTime() + 1000)),
    ).toBeNull()
    const [after] = await listSubscriptions(t.db, {
      projectId,
      telegramUserId: ALICE,
      now: new Date(lastEnd.getTime() + 1000),
    })
    expect(after).toMatchObject({ status: 'ended', active: false })
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('a renewal delivered twice under different charge ids grants one period (dedupe by subscription and expiry)', async () => {
    const first = await subscribe(BOB)
    await deliver(first.chargeId)
    s.sandbox.advanceClock(30 * DAY - 60_000)
    const renewal = s.sandbox.renewSubscription(first.chargeId)
    if (renewal.status !== 'renewed') throw new Error(renewal.status)
    const delivered = await bot.payment(renewal.chargeId)
    const once = await recordPayment(t.db, {
      projectId,
      secrets,
      via: 'api',
      now: now(),
      ...delivered,
    })
    const twice = await recordPayment(t.db, {
      projectId,
      secrets,
      via: 'reconciliation',
      now: now(),
      ...delivered,
      payment: { ...delivered.payment, telegram_payment_charge_id: `${renewal.chargeId}-copy` },
    })
    expect(once).toMatchObject({ credits: 1500, flag: null })
    expect(twice).toMatchObject({
      credits: 0,
      flag: 'duplicate_renewal',
      entitlement: null,
      duplicate: false,
    })
    // Refunding the duplicate (the remedy for it) leaves the subscription the real charge paid for.
    await recordRefund(t.db, {
      projectId,
      via: 'api',
      from: delivered.from,
      refund: {
        currency: 'XTR',
        total_amount: delivered.payment.total_amount,
        invoice_payload: delivered.payment.invoice_payload,
        telegram_payment_charge_id: `${renewal.chargeId}-copy`,
      },
    })
    const [subscription] = await listSubscriptions(t.db, {
      projectId,
      telegramUserId: BOB,
      now: now(),
    })
    expect(subscription).toMatchObject({ status: 'active', active: true })
  })

  it('a first charge recovered after its renewal covers its own month, not one more at the end', async () => {
    const user = 2_000_019
    s.sandbox.createUser({ id: user, firstName: 'Lee' })
    const first = await subscribe(user)
    const lost = await bot.payment(first.chargeId) // delivered to the bot, never recorded
    s.sandbox.advanceClock(30 * DAY - 60_000)
    const renewal = s.sandbox.renewSubscription(first.chargeId)
    if (renewal.status !== 'renewed') throw new Error(renewal.status)
    await deliver(renewal.chargeId)
    const [before] = await listSubscriptions(t.db, { projectId, telegramUserId: user, now: now() })
    // Reconciliation finds the first charge: Telegram's ledger row has no expiration date.
    const { subscription_expiration_date: _e, is_first_recurring: _f, ...charge } = lost.payment
    await recordPayment(t.db, {
      projectId,
      secrets,
      via: 'reconciliation',
      now: now(),
      ...lost,
      payment: charge,
    })
    const [after] = await listSubscriptions(t.db, { projectId, telegramUserId: user, now: now() })
    expect(after!.currentPeriodEnd).toBe(before!.currentPeriodEnd)
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('refunding the current period ends access and marks the subscription refunded', async () => {
    const user = 2_000_009
    s.sandbox.createUser({ id: user, firstName: 'Max' })
    const first = await subscribe(user)
    await deliver(first.chargeId)
    const refund = await refundPayment(t.db, {
      projectId,
      telegramPaymentChargeId: first.chargeId,
      by: 'operator:op',
      reason: 'asked within a day',
      botApi: s.api,
      now: now(),
    })
    expect(refund).toMatchObject({ voided: 1500, entitlementsRevoked: 1 })
    // Telegram would otherwise charge again next month.
    expect(s.sandbox.subscription(first.chargeId).canceled).toBe(true)
    expect(await accessEnd(t.db, projectId, await customerId(user), 'pro', now())).toBeNull()
    const [subscription] = await listSubscriptions(t.db, {
      projectId,
      telegramUserId: user,
      now: now(),
    })
    expect(subscription).toMatchObject({ status: 'refunded', active: false })
  })
})
