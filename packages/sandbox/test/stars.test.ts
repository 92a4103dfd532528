import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  createSandbox,
  type Message,
  type PaymentResult,
  type Sandbox,
  SandboxError,
  type StarTransaction,
  type Update,
} from '../src/index.ts'
import {
  callApi,
  createShopBot,
  eventually,
  launchPolling,
  type ShopBot,
  sleep,
} from './helpers.ts'

const ALICE = 2_000_001
const DAY = 86_400
const MONTH = 2_592_000

function chargeOf(result: PaymentResult): string {
  if (result.status !== 'paid') throw new Error(`payment ${result.status}`)
  return result.chargeId
}

describe('Stars payments, refunds and the ledger', () => {
  let sandbox: Sandbox
  let shop: ShopBot
  let token: string
  const api = (method: string, params: Record<string, unknown> = {}) =>
    callApi(sandbox.apiRoot, token, method, params)

  beforeEach(async () => {
    sandbox = await createSandbox({ users: [{ id: ALICE, firstName: 'Alice' }] })
    token = sandbox.bot().token
    shop = createShopBot(token, sandbox.apiRoot)
    await launchPolling(shop.bot)
    sandbox.sendText(ALICE, 'hi') // opens the chat so the bot may write
  })

  afterEach(async () => {
    shop.bot.stop('test end')
    await sandbox.close()
  })

  async function sendPackInvoice(amount = 30): Promise<Message> {
    const sent = await api('sendInvoice', {
      chat_id: ALICE,
      title: 'Pack',
      description: 'Credits',
      payload: 'order-7',
      currency: 'XTR',
      prices: [{ label: 'Pack', amount }],
    })
    expect(sent.ok).toBe(true)
    return sent.result as Message
  }

  async function payPack(amount = 30): Promise<string> {
    const invoice = await sendPackInvoice(amount)
    return chargeOf(await sandbox.payInvoice(ALICE, { messageId: invoice.message_id }))
  }

  it('bot refund: ledger row with the same id under receiver, refunded_payment, balance back', async () => {
    const chargeId = await payPack(30)
    expect(await api('getMyStarBalance')).toMatchObject({ ok: true, result: { amount: 30 } })

    const refund = await api('refundStarPayment', {
      user_id: ALICE,
      telegram_payment_charge_id: chargeId,
    })
    expect(refund).toMatchObject({ ok: true, result: true })
    await eventually(() => shop.log.refundedPayments.length === 1)
    expect(shop.log.refundedPayments[0]).toEqual({
      currency: 'XTR',
      total_amount: 30,
      invoice_payload: 'order-7',
      telegram_payment_charge_id: chargeId,
      provider_payment_charge_id: expect.any(String),
    })
    const rows = sandbox.starTransactions()
    expect(rows).toHaveLength(2)
    expect(rows[1]).toEqual({
      id: chargeId,
      amount: 30,
      date: expect.any(Number),
      receiver: {
        type: 'user',
        transaction_type: 'invoice_payment',
        user: expect.objectContaining({ id: ALICE }),
        invoice_payload: 'order-7',
      },
    })
    expect(rows[1]?.source).toBeUndefined()
    expect(await api('getMyStarBalance')).toMatchObject({ result: { amount: 0 } })

    const again = await api('refundStarPayment', {
      user_id: ALICE,
      telegram_payment_charge_id: chargeId,
    })
    expect(again).toMatchObject({
      status: 400,
      ok: false,
      error_code: 400,
      description: 'Bad Request: CHARGE_ALREADY_REFUNDED',
    })
  })

  it('refundStarPayment errors: CHARGE_NOT_FOUND, a missing charge id, USER_ID_INVALID, a bad user_id', async () => {
    const chargeId = await payPack()
    const cases: [Record<string, unknown>, string][] = [
      [{ user_id: ALICE, telegram_payment_charge_id: 'stxNOPE' }, 'Bad Request: CHARGE_NOT_FOUND'],
      // The Bot API server refuses an empty id itself; a blank one reaches Telegram.
      [
        { user_id: ALICE, telegram_payment_charge_id: '' },
        'Bad Request: parameter "telegram_payment_charge_id" is required',
      ],
      [{ user_id: ALICE, telegram_payment_charge_id: ' ' }, 'Bad Request: CHARGE_ID_EMPTY'],
      [
        { user_id: 'alice', telegram_payment_charge_id: chargeId },
        'Bad Request: invalid user_id specified',
      ],
      [{ telegram_payment_charge_id: chargeId }, 'Bad Request: invalid user_id specified'],
      [{ user_id: 42, telegram_payment_charge_id: chargeId }, 'Bad Request: USER_ID_INVALID'],
    ]
    for (const [params, description] of cases) {
      expect(await api('refundStarPayment', params)).toMatchObject({ status: 400, description })
    }
    expect(sandbox.starBalance()).toBe(30)
  })

  it('Telegram-side refund sends refunded_payment; the bot then gets CHARGE_ALREADY_REFUNDED', async () => {
    const chargeId = await payPack(30)
    const message = sandbox.refundPayment(chargeId)
    expect(message.refunded_payment?.telegram_payment_charge_id).toBe(chargeId)
    await eventually(() => shop.log.refundedPayments.length === 1)
    expect(sandbox.starBalance()).toBe(0)
    expect(
      await api('refundStarPayment', { user_id: ALICE, telegram_payment_charge_id: chargeId }),
    ).toMatchObject({ description: 'Bad Request: CHARGE_ALREADY_REFUNDED' })
    expect(() => sandbox.refundPayment(chargeId)).toThrow(SandboxError)
  })

  it('a chargeback debits the ledger and sends the bot nothing', async () => {
    const chargeId = await payPack(30)
    await eventually(() => shop.log.successfulPayments.length === 1)
    const updatesBefore = shop.log.updateIds.length
    sandbox.chargeback(chargeId)
    await sleep(100)
    expect(shop.log.updateIds.length).toBe(updatesBefore)
    expect(shop.log.refundedPayments).toEqual([])
    expect(sandbox.starTransactions().map((r) => [r.id, r.source ? 'in' : 'out'])).toEqual([
      [chargeId, 'in'],
      [chargeId, 'out'],
    ])
    expect(sandbox.starBalance()).toBe(0)
  })

  it('getStarTransactions pages oldest first with offset and a limit clamped to 1..100', async () => {
    const invoice = await sendPackInvoice(10)
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      ids.push(chargeOf(await sandbox.payInvoice(ALICE, { messageId: invoice.message_id })))
    }
    expect(new Set(ids).size).toBe(3)
    sandbox.chargeback(ids[0] ?? '')
    const page = async (params: Record<string, unknown>) =>
      ((await api('getStarTransactions', params)).result as { transactions: StarTransaction[] })
        .transactions
    expect((await page({ limit: 2 })).map((r) => r.id)).toEqual([ids[0], ids[1]])
    expect((await page({ offset: 2, limit: 2 })).map((r) => r.id)).toEqual([ids[2], ids[0]])
    expect(await page({ offset: 10 })).toEqual([])
    expect(await page({ limit: 0 })).toHaveLength(1)
    expect(await page({ limit: 1000 })).toHaveLength(4)
    const all = await page({})
    expect(all.map((r) => r.amount)).toEqual([10, 10, 10, 10])
    expect(all.every((r) => Number.isInteger(r.date))).toBe(true)
    expect(sandbox.starBalance()).toBe(20)
  })

  it('subscription link: first payment, renewal after 30 days, cancel stops renewal, resume allows it', async () => {
    const link = await api('createInvoiceLink', {
      title: 'Pro',
      description: 'Pro plan',
      payload: 'sub-1',
      currency: 'XTR',
      prices: [{ label: 'Pro', amount: 100 }],
      subscription_period: MONTH,
    })
    expect(link.result).toMatch(/^https:\/\/t\.me\/\$[A-Za-z0-9_-]+$/)
    const first = await sandbox.payInvoice(ALICE, { invoiceLink: link.result as string })
    const chargeId = chargeOf(first)
    if (first.status !== 'paid') return
    expect(first.subscriptionExpirationDate).toBe(first.message.date + MONTH)
    await eventually(() => shop.log.successfulPayments.length === 1)
    expect(shop.log.successfulPayments[0]).toMatchObject({
      total_amount: 100,
      invoice_payload: 'sub-1',
      subscription_expiration_date: first.message.date + MONTH,
      is_recurring: true,
      is_first_recurring: true,
    })
    expect(sandbox.starTransactions()[0]?.source).toMatchObject({ subscription_period: MONTH })

    sandbox.advanceClock(30 * DAY * 1000)
    const renewal = sandbox.renewSubscription(chargeId)
    if (renewal.status !== 'renewed') throw new Error('renewal refused')
    expect(renewal.chargeId).not.toBe(chargeId)
    expect(renewal.expirationDate).toBe(first.message.date + 2 * MONTH)
    expect(renewal.message.date).toBeGreaterThanOrEqual(first.message.date + 30 * DAY)
    await eventually(() => shop.log.successfulPayments.length === 2)
    const renewed = shop.log.successfulPayments[1]
    expect(renewed).toMatchObject({
      telegram_payment_charge_id: renewal.chargeId,
      subscription_expiration_date: first.message.date + 2 * MONTH,
      is_recurring: true,
    })
    expect(renewed?.is_first_recurring).toBeUndefined()
    expect(sandbox.starBalance()).toBe(200)

    const cancel = await api('editUserStarSubscription', {
      user_id: ALICE,
      telegram_payment_charge_id: chargeId,
      is_canceled: true,
    })
    expect(cancel).toMatchObject({ ok: true, result: true })
    expect(sandbox.subscription(renewal.chargeId)).toMatchObject({ id: chargeId, canceled: true })
    expect(sandbox.renewSubscription(chargeId)).toEqual({
      status: 'canceled',
      subscriptionId: chargeId,
    })
    expect(sandbox.starTransactions()).toHaveLength(2)

    await api('editUserStarSubscription', {
      user_id: ALICE,
      telegram_payment_charge_id: chargeId,
      is_canceled: false,
    })
    expect(sandbox.renewSubscription(chargeId).status).toBe('renewed')
  })

  it('one payment, renewal or refund has one date: charge, ledger row, expiry and message agree even when the clock ticks between reads', async () => {
    // Every read of the clock lands in a new second, as it can on a busy machine at a second's edge.
    const start = sandbox.clock.now()
    let reads = 0
    sandbox.clock.now = () => start + 1000 * reads++
    const link = await api('createInvoiceLink', {
      title: 'Pro',
      description: 'Pro plan',
      payload: 'sub-ticks',
      currency: 'XTR',
      prices: [{ label: 'Pro', amount: 100 }],
      subscription_period: MONTH,
    })
    const first = await sandbox.payInvoice(ALICE, { invoiceLink: link.result as string })
    const chargeId = chargeOf(first)
    if (first.status !== 'paid') return
    const paidRow = sandbox.starTransactions().find((r) => r.id === chargeId && r.source)
    expect(paidRow?.date).toBe(first.message.date)
    expect(first.subscriptionExpirationDate).toBe(first.message.date + MONTH)
    expect(first.message.successful_payment?.subscription_expiration_date).toBe(
      first.message.date + MONTH,
    )

    const renewal = sandbox.renewSubscription(chargeId)
    if (renewal.status !== 'renewed') throw new Error('renewal refused')
    const renewedRow = sandbox.starTransactions().find((r) => r.id === renewal.chargeId)
    expect(renewedRow?.date).toBe(renewal.message.date)
    expect(renewal.expirationDate).toBe(first.message.date + 2 * MONTH)

    const refund = sandbox.refundPayment(renewal.chargeId)
    const refundRow = sandbox
      .starTransactions()
      .find((r) => r.id === renewal.chargeId && r.receiver)
    expect(refundRow?.date).toBe(refund.date)
  })

  it('editUserStarSubscription refuses a one-time charge', async () => {
    const chargeId = await payPack()
    expect(
      await api('editUserStarSubscription', {
        user_id: ALICE,
        telegram_payment_charge_id: chargeId,
        is_canceled: true,
      }),
    ).toMatchObject({ status: 400, description: 'Bad Request: CHARGE_NOT_FOUND' })
  })
})

describe('emitRefundedPaymentOnBotRefund: false', () => {
  it('a bot-initiated refund writes the ledger row without a refunded_payment update', async () => {
    const sandbox = await createSandbox({
      users: [{ id: ALICE }],
      emitRefundedPaymentOnBotRefund: false,
    })
    const token = sandbox.bot().token
    const api = (method: string, params: Record<string, unknown> = {}) =>
      callApi(sandbox.apiRoot, token, method, params)
    try {
      const link = await api('createInvoiceLink', {
        title: 'Pack',
        description: 'Credits',
        payload: 'p',
        currency: 'XTR',
        prices: [{ label: 'Pack', amount: 5 }],
      })
      const paying = sandbox.payInvoice(ALICE, { invoiceLink: link.result as string })
      // Act as the bot by hand: long-poll for the pre_checkout_query and accept it.
      const polled = (await api('getUpdates', { timeout: 2 })).result as Update[]
      const query = polled[0]?.pre_checkout_query
      expect(query).toMatchObject({ currency: 'XTR', total_amount: 5, invoice_payload: 'p' })
      await api('answerPreCheckoutQuery', { pre_checkout_query_id: query?.id, ok: true })
      const chargeId = chargeOf(await paying)
      await api('refundStarPayment', { user_id: ALICE, telegram_payment_charge_id: chargeId })
      const rest = (await api('getUpdates', { offset: (polled[0]?.update_id ?? 0) + 1 }))
        .result as Update[]
      expect(rest.map((u) => Object.keys(u.message ?? {}).includes('successful_payment'))).toEqual([
        true,
      ])
      expect(sandbox.starTransactions().map((r) => (r.receiver ? 'refund' : 'charge'))).toEqual([
        'charge',
        'refund',
      ])
    } finally {
      await sandbox.close()
    }
  })
})
