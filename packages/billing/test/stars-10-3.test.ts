import { rows } from '@e-stars/db'
import type { StarTransaction } from '@e-stars/telegram'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  accessEnd,
  cancelSubscription,
  createInvoice,
  createProduct,
  getBalance,
  getPayment,
  InvalidInput,
  listSubscriptions,
  paidMediaChargeId,
  reconcile,
  recordPaidMediaPurchase,
  recordPayment,
  recordRefund,
  recordSubscriptionUpdate,
  refundPayment,
  sendPaidMediaProduct,
  stopRenewalsAfter,
  storeStarTransactions,
  subscriptionHistory,
  treasury,
} from '../src/index.ts'
import { ledgerMismatches, useDatabase } from './fixtures.ts'
import { ALICE, BOB, secrets, shopProject, startTestBot, useSandbox } from './payments-fixtures.ts'

const t = useDatabase()
const s = useSandbox()
let projectId: string
let bot: ReturnType<typeof startTestBot>
const DAY = 86_400_000
const NANO = 1_000_000_000

beforeAll(async () => {
  projectId = await shopProject(t.db)
  await rows(t.db, sql`update projects set subscription_grace_days = 3 where id = ${projectId}`)
  bot = startTestBot(s.api, t.db, projectId)
})
afterAll(() => bot?.stop())

const now = () => new Date(s.sandbox.clock.now())
const customerId = async (telegramUserId: number) => {
  const [row] = await rows<{ id: string }>(
    t.db,
    sql`select id from customers where project_id = ${projectId} and telegram_user_id = ${telegramUserId}`,
  )
  return Number(row!.id)
}
const proUntil = async (userId: number, at: Date) =>
  accessEnd(t.db, projectId, await customerId(userId), 'pro', at)

async function subscribe(userId: number, project = projectId) {
  const invoice = await createInvoice(t.db, {
    projectId: project,
    telegramUserId: userId,
    productKey: 'plus',
    secrets,
    now: now(),
    createInvoiceLink: (params) => s.api.createInvoiceLink(params),
  })
  const paid = await s.sandbox.payInvoice(userId, { invoiceLink: invoice.invoiceLink! })
  if (paid.status !== 'paid') throw new Error(paid.status)
  await recordPayment(t.db, {
    projectId: project,
    secrets,
    via: 'api',
    now: now(),
    ...(await bot.payment(paid.chargeId)),
  })
  const [subscription] = await listSubscriptions(t.db, {
    projectId: project,
    telegramUserId: userId,
    now: now(),
  })
  return {
    payload: invoice.payload,
    chargeId: paid.chargeId,
    end: new Date(paid.subscriptionExpirationDate! * 1000),
    subscription: subscription!,
  }
}

const update = (userId: number, payload: string, state: string, updateId: number, at: Date) =>
  recordSubscriptionUpdate(t.db, {
    projectId,
    secrets,
    updateId,
    now: at,
    update: { user: { id: userId, first_name: 'Alice' }, invoice_payload: payload, state },
  })

describe('subscription state updates (Bot API 10.2)', () => {
  it('cancel keeps access to the period end and stops renewing; re-enable restores renewal', async () => {
    const sub = await subscribe(ALICE)
    const at = new Date(sub.end.getTime() - 10 * DAY)
    const canceled = await update(ALICE, sub.payload, 'canceled', 9001, at)
    expect(canceled).toMatchObject({
      status: 'applied',
      previous: 'active',
      subscription: { renewalState: 'canceled', status: 'canceled', active: true, renews: false },
    })
    expect(canceled.subscription?.accessEndsAt).toBe(sub.end.toISOString())
    // Exactly at the period end: access up to the instant before, none from it.
    expect(await proUntil(ALICE, new Date(sub.end.getTime() - 1))).toEqual(sub.end)
    expect(await proUntil(ALICE, sub.end)).toBeNull()
    // The same update again (bot and relay both deliver it): nothing new.
    expect((await update(ALICE, sub.payload, 'canceled', 9001, at)).status).toBe('unchanged')

    const active = await update(ALICE, sub.payload, 'active', 9002, new Date(at.getTime() + DAY))
    expect(active).toMatchObject({
      status: 'applied',
      previous: 'canceled',
      subscription: { renewalState: 'active', status: 'active', renews: true },
    })
    const history = await subscriptionHistory(t.db, {
      projectId,
      subscriptionId: sub.subscription.id,
    })
    expect(history.map((h) => [h.state, h.source, h.updateId])).toEqual([
      ['canceled', 'telegram', 9001],
      ['active', 'telegram', 9002],
    ])
    const events = await rows<{ type: string; state: string }>(
      t.db,
      sql`select type, payload->>'state' as state from events
          where project_id = ${projectId} and type in ('subscription.cancelled', 'subscription.renewed', 'subscription.failed')
            and payload->>'subscriptionId' = ${sub.subscription.id} order by id`,
    )
    expect(events.map((e) => [e.type, e.state])).toEqual([
      ['subscription.cancelled', 'canceled'],
      ['subscription.renewed', 'active'],
    ])
  })

  it('a failed renewal ends access at the period end plus the grace days, exactly; a later charge renews', async () => {
    const sub = await subscribe(BOB)
    const failed = await update(BOB, sub.payload, 'failed', 9003, sub.end)
    const graceEnd = new Date(sub.end.getTime() + 3 * DAY)
    expect(failed).toMatchObject({
      status: 'applied',
      subscription: { renewalState: 'failed', active: true, renews: false },
    })
    expect(failed.subscription?.accessEndsAt).toBe(graceEnd.toISOString())
    expect(await proUntil(BOB, new Date(graceEnd.getTime() - 1))).toEqual(graceEnd)
    expect(await proUntil(BOB, graceEnd)).toBeNull()
    const [later] = await listSubscriptions(t.db, {
      projectId,
      telegramUserId: BOB,
      now: graceEnd,
    })
    expect(later).toMatchObject({ status: 'ended', active: false })

    // Telegram's retry succeeds within the grace: renewing again, recorded as a change.
    const renewedEnd = Math.floor((sub.end.getTime() + 30 * DAY) / 1000)
    await recordPayment(t.db, {
      projectId,
      secrets,
      via: 'api',
      now: new Date(sub.end.getTime() + DAY),
      from: { id: BOB, first_name: 'Bob' },
      payment: {
        currency: 'XTR',
        total_amount: 200,
        invoice_payload: sub.payload,
        telegram_payment_charge_id: `${sub.chargeId}-renewal`,
        subscription_expiration_date: renewedEnd,
        is_recurring: true,
      },
    })
    const [renewed] = await listSubscriptions(t.db, {
      projectId,
      telegramUserId: BOB,
      now: new Date(sub.end.getTime() + DAY),
    })
    expect(renewed).toMatchObject({ renewalState: 'active', renews: true })
    expect(await proUntil(BOB, new Date(sub.end.getTime() + DAY))).toEqual(
      new Date(renewedEnd * 1000),
    )
    const history = await subscriptionHistory(t.db, {
      projectId,
      subscriptionId: sub.subscription.id,
    })
    expect(history.map((h) => h.state)).toEqual(['failed', 'active'])
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('an unknown payload, an unknown state, a payload of no subscription: stored and flagged', async () => {
    const at = now()
    expect(await update(ALICE, 'not-ours', 'canceled', 9010, at)).toMatchObject({
      status: 'flagged',
      flag: 'unknown_payload',
    })
    const sub = (await listSubscriptions(t.db, { projectId, telegramUserId: ALICE, now: at }))[0]!
    const [order] = await rows<{ order_id: string }>(
      t.db,
      sql`select order_id from payments where project_id = ${projectId} and subscription_id = ${sub.id} limit 1`,
    )
    const payload = secrets.signOrderRef(projectId, order!.order_id)
    expect(await update(ALICE, payload, 'paused', 9011, at)).toMatchObject({
      status: 'flagged',
      flag: 'unknown_state',
    })
    // Bob did not start Alice's subscription.
    expect(await update(BOB, payload, 'canceled', 9012, at)).toMatchObject({
      status: 'flagged',
      flag: 'no_subscription',
    })
    const flagged = await rows<{ flag: string; update_id: string }>(
      t.db,
      sql`select payload->>'flag' as flag, payload->>'updateId' as update_id from events
          where project_id = ${projectId} and type = 'subscription.update_unmatched' order by id`,
    )
    expect(flagged).toEqual([
      { flag: 'unknown_payload', update_id: '9010' },
      { flag: 'unknown_state', update_id: '9011' },
      { flag: 'no_subscription', update_id: '9012' },
    ])
  })

  it('refunding a subscription charge cancels its renewal at Telegram after the refund, recorded as a state change', async () => {
    const sub = await subscribe(BOB)
    const edits: unknown[] = []
    await refundPayment(t.db, {
      projectId,
      telegramPaymentChargeId: sub.chargeId,
      reason: 'asked for it',
      by: 'operator:test',
      now: now(),
      botApi: {
        refundStarPayment: (params) => s.api.refundStarPayment(params),
        editUserStarSubscription: async (params) => {
          // The refund is committed before Telegram is asked to stop the renewal.
          expect(
            (await getPayment(t.db, { projectId, telegramPaymentChargeId: sub.chargeId })).status,
          ).toBe('refunded')
          edits.push(params)
          return s.api.editUserStarSubscription(params)
        },
      },
    })
    expect(edits).toEqual([
      { user_id: BOB, telegram_payment_charge_id: sub.chargeId, is_canceled: true },
    ])
    const history = await subscriptionHistory(t.db, {
      projectId,
      subscriptionId: sub.subscription.id,
    })
    expect(history.map((h) => [h.state, h.source])).toEqual([['canceled', 'refund']])
  })

  it('a refund stops renewal with editUserStarSubscription after it commits; a failing call is reported', async () => {
    const [sub] = await listSubscriptions(t.db, { projectId, telegramUserId: ALICE, now: now() })
    const calls: unknown[] = []
    const [stopped] = await stopRenewalsAfter(t.db, {
      projectId,
      reason: 'refund',
      subscriptionIds: [sub!.id],
      botApi: {
        editUserStarSubscription: async (params) => {
          calls.push(params)
          return true
        },
      },
      now: now(),
    })
    expect(stopped).toEqual({ subscriptionId: sub!.id, stopped: true, error: null })
    expect(calls).toEqual([
      { user_id: ALICE, telegram_payment_charge_id: sub!.firstChargeId, is_canceled: true },
    ])
    const history = await subscriptionHistory(t.db, { projectId, subscriptionId: sub!.id })
    expect(history.at(-1)).toMatchObject({ state: 'canceled', source: 'refund' })

    const [failed] = await stopRenewalsAfter(t.db, {
      projectId,
      reason: 'block',
      subscriptionIds: [sub!.id],
      botApi: {
        editUserStarSubscription: async () => {
          throw new Error('Bad Request: SUBSCRIPTION_NOT_FOUND')
        },
      },
    })
    expect(failed).toMatchObject({ stopped: false, error: expect.stringContaining('SUBSCRIPTION') })
    // Resuming through the sandbox's real editUserStarSubscription records the operator.
    const resumed = await cancelSubscription(t.db, {
      projectId,
      subscriptionId: sub!.id,
      botApi: s.api,
      canceled: false,
      now: now(),
    })
    expect(resumed.renewalState).toBe('active')
  })
})

describe('CHARGE_ALREADY_REFUNDED (tdlib/telegram-bot-api#690)', () => {
  it("is done only once Telegram confirms: before, the payment stands; the refunded_payment then revokes with the operator's name", async () => {
    const sub = await subscribe(ALICE)
    const telegram = {
      refundStarPayment: async () => {
        // The error the client raises for Telegram's answer.
        const { TelegramApiError } = await import('@e-stars/telegram')
        throw new TelegramApiError('refundStarPayment', {
          error_code: 400,
          description: 'Bad Request: CHARGE_ALREADY_REFUNDED',
        })
      },
      // Telegram's ledger shows the charge, and no refund of it.
      getStarTransactions: (params: { offset?: number; limit?: number }) =>
        s.api.getStarTransactions(params),
    }
    await expect(
      refundPayment(t.db, {
        projectId,
        telegramPaymentChargeId: sub.chargeId,
        reason: 'duplicate charge',
        by: 'operator:op-7',
        now: now(),
        botApi: telegram,
      }),
    ).rejects.toThrow(/CHARGE_ALREADY_REFUNDED/)
    expect(
      await getPayment(t.db, { projectId, telegramPaymentChargeId: sub.chargeId }),
    ).toMatchObject({
      status: 'paid',
      refundedBy: 'operator:op-7',
    })
    // Telegram's refunded_payment arrives: now it is done, in the operator's name.
    s.sandbox.refundPayment(sub.chargeId)
    const refund = await recordRefund(t.db, {
      projectId,
      via: 'api',
      now: now(),
      ...(await bot.refund(sub.chargeId)),
    })
    expect(refund).toMatchObject({ alreadyRefunded: false, refundedBy: 'operator:op-7' })
  })
})

describe('catalog: paid media and subscription periods', () => {
  const base = { projectId: '', title: 'Photo set', description: 'Three photos' }
  it('refuses a paid-media price outside 1–25,000 Stars, bad media, a period other than 30 days', async () => {
    const media = [{ type: 'photo' as const, media: 'AgACAgIAAxk-sandbox-photo' }]
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ kind: 'paid_media', priceStars: 25_001, media }, 'priceStars'],
      [{ kind: 'paid_media', priceStars: 0, media }, 'priceStars'],
      [{ kind: 'paid_media', priceStars: 10, media: [] }, 'media'],
      [
        { kind: 'paid_media', priceStars: 10, media: [{ type: 'audio', media: 'x' }] },
        'media[0].type',
      ],
      [
        { kind: 'paid_media', priceStars: 10, media: [{ type: 'photo', media: ' ' }] },
        'media[0].media',
      ],
      [{ kind: 'pack', priceStars: 10, credits: 5, media }, 'media'],
      [{ kind: 'subscription', priceStars: 10, credits: 5, periodDays: 31 }, 'periodDays'],
      [{ kind: 'pack', priceStars: 10, credits: 5, periodDays: 30 }, 'periodDays'],
    ]
    for (const [terms, field] of cases) {
      const error = await createProduct(t.db, {
        ...base,
        projectId,
        key: `bad_${field.replace(/[^a-z0-9]/gi, '').toLowerCase()}_${Math.random().toString(36).slice(2, 8)}`,
        ...(terms as { kind: 'paid_media'; priceStars: number }),
      }).catch((e: unknown) => e)
      expect(error, field).toBeInstanceOf(InvalidInput)
      expect((error as InvalidInput).field ?? (error as Error).message).toContain(field)
    }
    const ok = await createProduct(t.db, {
      ...base,
      projectId,
      key: 'photos_max',
      kind: 'paid_media',
      priceStars: 25_000,
      media,
    })
    expect(ok).toMatchObject({ kind: 'paid_media', priceStars: 25_000, media })
    const monthly = await createProduct(t.db, {
      ...base,
      projectId,
      key: 'monthly_30',
      kind: 'subscription',
      priceStars: 10,
      credits: 5,
      periodDays: 30,
    })
    expect(monthly.kind).toBe('subscription')
  })
})

/** A fake Telegram ledger: what getStarTransactions and getMyStarBalance answer. */
function telegramLedger(
  transactions: StarTransaction[],
  balance: { amount: number; nanostar_amount?: number },
) {
  return {
    getStarTransactions: async (params?: { offset?: number; limit?: number }) => ({
      transactions: transactions.slice(
        params?.offset ?? 0,
        (params?.offset ?? 0) + (params?.limit ?? 100),
      ),
    }),
    getMyStarBalance: async () => balance,
  }
}

describe('paid media, affiliate commissions, nanostars, treasury', () => {
  let project: string
  beforeAll(async () => {
    project = await shopProject(t.db, 'media shop')
    await createProduct(t.db, {
      projectId: project,
      key: 'photos',
      kind: 'paid_media',
      title: 'Photo set',
      description: 'Three photos and 100 credits',
      priceStars: 75,
      credits: 100,
      media: [{ type: 'photo', media: 'AgACAgIAAxk-sandbox-photo' }],
    })
  })

  it('a purchase delivered twice and found by reconciliation is credited once, at the net', async () => {
    const sent: unknown[] = []
    const offer = await sendPaidMediaProduct(t.db, {
      projectId: project,
      telegramUserId: ALICE,
      productKey: 'photos',
      secrets,
      sendPaidMedia: async (params) => {
        sent.push(params)
        return { message_id: 41 }
      },
    })
    expect(sent).toEqual([
      {
        chat_id: ALICE,
        star_count: 75,
        media: [{ type: 'photo', media: 'AgACAgIAAxk-sandbox-photo' }],
        payload: offer.payload,
      },
    ])
    const purchase = { from: { id: ALICE, first_name: 'Alice' }, paid_media_payload: offer.payload }
    const first = await recordPaidMediaPurchase(t.db, {
      projectId: project,
      purchase,
      secrets,
      via: 'relay',
    })
    const second = await recordPaidMediaPurchase(t.db, {
      projectId: project,
      purchase,
      secrets,
      via: 'api',
    })
    expect(first).toMatchObject({ result: 'recorded', payment: { duplicate: false, credits: 100 } })
    expect(second).toMatchObject({ result: 'recorded', payment: { duplicate: true } })
    expect((await getBalance(t.db, { projectId: project, telegramUserId: ALICE })).available).toBe(
      100,
    )

    // Telegram lists the charge with an affiliate's commission of 8.123456789 Stars.
    const commission = 8 * NANO + 123_456_789
    const ledger = telegramLedger(
      [
        {
          id: 'charge-media-1',
          amount: 75,
          date: Math.floor(Date.now() / 1000),
          source: {
            type: 'user',
            transaction_type: 'paid_media_payment',
            user: { id: ALICE, is_bot: false, first_name: 'Alice' },
            paid_media_payload: offer.payload,
            affiliate: { commission_per_mille: 108, amount: 8, nanostar_amount: 123_456_789 },
          },
        },
      ],
      { amount: 66, nanostar_amount: 876_543_211 },
    )
    const run = await reconcile(t.db, {
      projectId: project,
      botApi: ledger,
      secrets,
      trigger: 'test',
    })
    expect(run.status).toBe('succeeded')
    if (run.status !== 'succeeded') return
    // Nothing missing, nothing unknown: the provisional row became the charge.
    expect(run.findings.map((f) => f.kind)).toEqual([])
    const payment = await getPayment(t.db, {
      projectId: project,
      telegramPaymentChargeId: 'charge-media-1',
    })
    expect(payment).toMatchObject({
      transactionType: 'paid_media_payment',
      grossNanostars: 75 * NANO,
      commissionNanostars: commission,
      netNanostars: 75 * NANO - commission,
      status: 'paid',
    })
    await expect(
      getPayment(t.db, {
        projectId: project,
        telegramPaymentChargeId: paidMediaChargeId(offer.orderId),
      }),
    ).rejects.toThrow()
    // The update delivered once more after reconciliation: still credited once.
    const third = await recordPaidMediaPurchase(t.db, {
      projectId: project,
      purchase,
      secrets,
      via: 'relay',
    })
    expect(third).toMatchObject({ result: 'recorded', payment: { duplicate: true } })
    expect((await getBalance(t.db, { projectId: project, telegramUserId: ALICE })).available).toBe(
      100,
    )

    // Treasury: 66.876543211 Stars at Telegram = 75 − 8.123456789 net; the books agree.
    const agreed = await treasury(t.db, { projectId: project, botApi: ledger })
    expect(agreed).toMatchObject({
      telegramBalanceNanostars: 66 * NANO + 876_543_211,
      netRevenueNanostars: 66 * NANO + 876_543_211,
      differenceNanostars: 0,
      agrees: true,
      flags: [],
      text: { telegramBalance: '66.876543211', difference: '0' },
    })
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('commission booked on a charge the bot recorded, unknown partners flagged, withdrawals and spend in the treasury', async () => {
    const invoice = await createInvoice(t.db, {
      projectId: project,
      telegramUserId: BOB,
      productKey: 'pack_s',
      secrets,
    })
    await recordPayment(t.db, {
      projectId: project,
      secrets,
      via: 'api',
      from: { id: BOB, first_name: 'Bob' },
      payment: {
        currency: 'XTR',
        total_amount: 50,
        invoice_payload: invoice.payload,
        telegram_payment_charge_id: 'charge-pack-bob',
      },
    })
    const date = Math.floor(Date.now() / 1000)
    const user = { id: BOB, is_bot: false, first_name: 'Bob' }
    const transactions: StarTransaction[] = [
      {
        id: 'charge-media-1',
        amount: 75,
        date,
        source: {
          type: 'user',
          transaction_type: 'paid_media_payment',
          user: { id: ALICE, is_bot: false, first_name: 'Alice' },
          affiliate: { commission_per_mille: 108, amount: 8, nanostar_amount: 123_456_789 },
        },
      },
      {
        id: 'charge-pack-bob',
        amount: 50,
        date,
        source: {
          type: 'user',
          transaction_type: 'invoice_payment',
          user,
          invoice_payload: invoice.payload,
          affiliate: { commission_per_mille: 200, amount: 10, nanostar_amount: 1 },
        },
      },
      {
        id: 'aff-1',
        amount: 2,
        nanostar_amount: 500_000_000,
        date,
        source: { type: 'affiliate_program', commission_per_mille: 100 },
      },
      {
        id: 'wd-ok',
        amount: 20,
        date,
        receiver: {
          type: 'fragment',
          withdrawal_state: { type: 'succeeded', date, url: 'https://fragment.example/tx' },
        },
      },
      {
        id: 'wd-pending',
        amount: 5,
        date,
        receiver: { type: 'fragment', withdrawal_state: { type: 'pending' } },
      },
      {
        id: 'wd-failed',
        amount: 30,
        date,
        receiver: { type: 'fragment', withdrawal_state: { type: 'failed' } },
      },
      { id: 'ads-1', amount: 3, date, receiver: { type: 'telegram_ads' } },
      {
        id: 'api-1',
        amount: 1,
        nanostar_amount: 100_000_000,
        date,
        receiver: { type: 'telegram_api', request_count: 11 },
      },
      {
        id: 'gift-1',
        amount: 15,
        date,
        receiver: { type: 'user', transaction_type: 'gift_purchase', user },
      },
      { id: 'odd-1', amount: 1, date, receiver: { type: 'telegram_future_thing' } },
    ]
    // Expected: net 66.876543211 + (50 − 10.000000001) + 2.5 − (20 + 5 + 3 + 1.1 + 15 + 1).
    const expected =
      66 * NANO + 876_543_211 + (40 * NANO - 1) + 2_500_000_000 - (45 * NANO + 100_000_000)
    const ledger = telegramLedger(transactions, {
      amount: Math.floor(expected / NANO),
      nanostar_amount: expected % NANO,
    })
    const run = await reconcile(t.db, {
      projectId: project,
      botApi: ledger,
      secrets,
      trigger: 'test',
    })
    if (run.status !== 'succeeded') throw new Error(run.status)
    expect(run.findings.map((f) => [f.kind, f.telegramPaymentChargeId, f.action]).sort()).toEqual([
      ['commission_booked', 'charge-pack-bob', 'applied'],
      ['unknown_partner', 'odd-1', 'flagged'],
    ])
    expect(
      await getPayment(t.db, { projectId: project, telegramPaymentChargeId: 'charge-pack-bob' }),
    ).toMatchObject({
      grossNanostars: 50 * NANO,
      commissionNanostars: 10 * NANO + 1,
      netNanostars: 40 * NANO - 1,
    })
    // A second run finds nothing new.
    const again = await reconcile(t.db, {
      projectId: project,
      botApi: ledger,
      secrets,
      trigger: 'test',
    })
    if (again.status !== 'succeeded') throw new Error(again.status)
    expect(again.findings).toEqual([])

    const books = await treasury(t.db, { projectId: project, botApi: ledger })
    expect(books).toMatchObject({
      otherIncomeNanostars: 2_500_000_000,
      outflows: {
        withdrawalsNanostars: 25 * NANO,
        adsNanostars: 3 * NANO,
        apiNanostars: 1_100_000_000,
        giftsAndPremiumNanostars: 15 * NANO,
        otherNanostars: 1 * NANO,
      },
      expectedBalanceNanostars: expected,
      differenceNanostars: 0,
      agrees: true,
    })
    expect(books.withdrawals.map((w) => [w.id, w.withdrawalState]).sort()).toEqual([
      ['wd-failed', 'failed'],
      ['wd-ok', 'succeeded'],
      ['wd-pending', 'pending'],
    ])
    // The unknown partner is stored and named.
    expect(books.flags).toEqual(['transaction odd-1: unknown partner type: telegram_future_thing'])

    // A chargeback Telegram took with no update: 7.5 Stars less than the books say → flagged.
    const short = expected - 7_500_000_000
    const flagged = await treasury(t.db, {
      projectId: project,
      botApi: {
        getMyStarBalance: async () => ({
          amount: Math.floor(short / NANO),
          nanostar_amount: short % NANO,
        }),
      },
    })
    expect(flagged).toMatchObject({ agrees: false, differenceNanostars: -7_500_000_000 })
    expect(flagged.text.difference).toBe('-7.5')
    expect(flagged.flags[0]).toContain('difference -7.5')
  })

  it('the purchase update from bot and relay racing reconciliation: one payment, credited once', async () => {
    const offer = await sendPaidMediaProduct(t.db, {
      projectId: project,
      telegramUserId: BOB,
      productKey: 'photos',
      secrets,
      sendPaidMedia: async () => ({ message_id: 42 }),
    })
    const before = (await getBalance(t.db, { projectId: project, telegramUserId: BOB })).available
    const purchase = { from: { id: BOB, first_name: 'Bob' }, paid_media_payload: offer.payload }
    const fromLedger = () =>
      recordPayment(t.db, {
        projectId: project,
        secrets,
        via: 'reconciliation',
        from: { id: BOB, first_name: 'Bob' },
        payment: {
          currency: 'XTR',
          total_amount: 75,
          invoice_payload: offer.payload,
          telegram_payment_charge_id: 'charge-media-race',
        },
        stars: {
          transactionType: 'paid_media_payment',
          grossNanostars: 75 * NANO,
          commissionNanostars: 0,
          affiliate: null,
        },
      })
    const results = await Promise.all([
      recordPaidMediaPurchase(t.db, { projectId: project, purchase, secrets, via: 'relay' }),
      fromLedger(),
      recordPaidMediaPurchase(t.db, { projectId: project, purchase, secrets, via: 'api' }),
      fromLedger(),
      recordPaidMediaPurchase(t.db, { projectId: project, purchase, secrets, via: 'relay' }),
    ])
    expect(results.length).toBe(5)
    const [count] = await rows<{ n: string; charge: string }>(
      t.db,
      sql`select count(*) as n, max(telegram_payment_charge_id) as charge from payments
          where project_id = ${project} and order_id = ${offer.orderId}`,
    )
    expect(Number(count!.n)).toBe(1)
    expect((await getBalance(t.db, { projectId: project, telegramUserId: BOB })).available).toBe(
      before + 100,
    )
    // Whichever came first, the charge ends with Telegram's id once the ledger has been seen.
    expect(count!.charge).toBe('charge-media-race')
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it("a withdrawal moves from pending to succeeded in the stored ledger; another project's payload is not ours", async () => {
    const date = Math.floor(Date.now() / 1000)
    const pending: StarTransaction = {
      id: 'wd-moving',
      amount: 7,
      date,
      receiver: { type: 'fragment', withdrawal_state: { type: 'pending' } },
    }
    await storeStarTransactions(t.db, project, [pending], new Date())
    await storeStarTransactions(
      t.db,
      project,
      [
        {
          ...pending,
          receiver: {
            type: 'fragment',
            withdrawal_state: { type: 'succeeded', date, url: 'https://fragment.example/w' },
          },
        },
      ],
      new Date(),
    )
    const [stored] = await rows<{ withdrawal_state: string; n: string }>(
      t.db,
      sql`select withdrawal_state, (select count(*) from star_transactions where project_id = ${project} and id = 'wd-moving') as n
          from star_transactions where project_id = ${project} and id = 'wd-moving'`,
    )
    expect({ ...stored, n: Number(stored!.n) }).toEqual({ withdrawal_state: 'succeeded', n: 1 })

    // A subscription payload signed for the first project, delivered to this one.
    const [order] = await rows<{ order_id: string }>(
      t.db,
      sql`select order_id from payments where project_id = ${projectId} and subscription_id is not null limit 1`,
    )
    const foreign = secrets.signOrderRef(projectId, order!.order_id)
    expect(
      await recordSubscriptionUpdate(t.db, {
        projectId: project,
        secrets,
        update: { user: { id: ALICE }, invoice_payload: foreign, state: 'canceled' },
      }),
    ).toMatchObject({ status: 'flagged', flag: 'unknown_payload' })
    expect(
      await recordPaidMediaPurchase(t.db, {
        projectId: project,
        secrets,
        via: 'relay',
        purchase: { from: { id: ALICE }, paid_media_payload: foreign },
      }),
    ).toMatchObject({ result: 'flagged', flag: 'unknown_payload' })
  })

  it('an affiliate entry that does not add up books no commission and is flagged; a bad paid-media payload is stored, flagged', async () => {
    const invoice = await createInvoice(t.db, {
      projectId: project,
      telegramUserId: BOB,
      productKey: 'pack_s',
      secrets,
    })
    const ledger = telegramLedger(
      [
        {
          id: 'charge-bad-aff',
          amount: 50,
          date: Math.floor(Date.now() / 1000),
          source: {
            type: 'user',
            transaction_type: 'invoice_payment',
            user: { id: BOB, is_bot: false, first_name: 'Bob' },
            invoice_payload: invoice.payload,
            affiliate: { commission_per_mille: 2000, amount: 60 },
          },
        },
      ],
      { amount: 0 },
    )
    const run = await reconcile(t.db, {
      projectId: project,
      botApi: ledger,
      secrets,
      trigger: 'test',
    })
    if (run.status !== 'succeeded') throw new Error(run.status)
    // This ledger lists only the new charge: the earlier ones are (rightly) unknown here.
    const kinds = run.findings.filter((f) => f.telegramPaymentChargeId === 'charge-bad-aff')
    expect(kinds.map((f) => f.kind).sort()).toEqual(['bad_affiliate', 'missing_payment'])
    expect(
      await getPayment(t.db, { projectId: project, telegramPaymentChargeId: 'charge-bad-aff' }),
    ).toMatchObject({ status: 'paid', commissionNanostars: 0, netNanostars: 50 * NANO })

    const bad = await recordPaidMediaPurchase(t.db, {
      projectId: project,
      secrets,
      via: 'relay',
      updateId: 777,
      purchase: { from: { id: BOB, first_name: 'Bob' }, paid_media_payload: 'someone-elses' },
    })
    expect(bad).toEqual({ result: 'flagged', flag: 'unknown_payload', payment: null })
    const [event] = await rows<{ flag: string }>(
      t.db,
      sql`select payload->>'flag' as flag from events where project_id = ${project}
          and type = 'paid_media.purchase_unmatched' and payload->>'updateId' = '777'`,
    )
    expect(event).toEqual({ flag: 'unknown_payload' })
    // A pack's order is not paid media.
    const notMedia = await recordPaidMediaPurchase(t.db, {
      projectId: project,
      secrets,
      via: 'relay',
      purchase: { from: { id: BOB, first_name: 'Bob' }, paid_media_payload: invoice.payload },
    })
    expect(notMedia).toMatchObject({ result: 'flagged', flag: 'not_paid_media' })
    // createInvoice refuses paid media (it is sent with sendPaidMedia).
    await expect(
      createInvoice(t.db, {
        projectId: project,
        telegramUserId: BOB,
        productKey: 'photos',
        secrets,
      }),
    ).rejects.toBeInstanceOf(InvalidInput)
  })
})
