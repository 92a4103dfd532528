import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSandbox, type Sandbox } from '../src/index.ts'
import {
  callApi,
  createShopBot,
  eventually,
  launchPolling,
  PACK,
  type ShopBot,
  sleep,
  tinyPng,
} from './helpers.ts'

const ALICE = 2_000_001

describe('a Telegraf bot polling the sandbox', () => {
  let sandbox: Sandbox
  let shop: ShopBot

  beforeEach(async () => {
    sandbox = await createSandbox({
      users: [{ id: ALICE, firstName: 'Alice' }],
      preCheckoutTimeoutMs: 400,
    })
    shop = createShopBot(sandbox.bot().token, sandbox.apiRoot)
    await launchPolling(shop.bot)
  })

  afterEach(async () => {
    shop.bot.stop('test end')
    await sandbox.close()
  })

  /** /start, then press the buy button; resolves with the invoice message. */
  async function openInvoice() {
    const start = sandbox.sendText(ALICE, '/start')
    const welcome = await sandbox.waitForMessage(ALICE, (m) => m.text !== undefined, 2000, {
      afterMessageId: start.message_id,
    })
    sandbox.pressButton(ALICE, welcome.message_id, { data: 'buy:100' })
    return sandbox.waitForMessage(ALICE, (m) => m.invoice !== undefined, 2000, {
      afterMessageId: welcome.message_id,
    })
  }

  it('delivers /start with a bot_command entity and records the reply with its keyboard', async () => {
    const sent = sandbox.sendText(ALICE, '/start')
    expect(sent.entities).toEqual([{ type: 'bot_command', offset: 0, length: 6 }])
    const reply = await sandbox.waitForMessage(ALICE, (m) => m.text?.startsWith('Welcome') ?? false)
    // parse_mode HTML: Telegram strips the tags from the stored text.
    expect(reply.text).toBe('Welcome! Pick a pack.')
    expect(reply.from?.is_bot).toBe(true)
    expect(reply.chat).toMatchObject({ id: ALICE, type: 'private' })
    expect(reply.reply_markup).toEqual({
      inline_keyboard: [[{ text: 'Buy 100 credits', callback_data: 'buy:100' }]],
    })
    expect(sandbox.transcript(ALICE).map((m) => m.text)).toEqual([
      '/start',
      'Welcome! Pick a pack.',
    ])
  })

  it('records a photo Telegraf uploads from a Buffer (multipart)', async () => {
    sandbox.sendText(ALICE, '/chart')
    const photo = await sandbox.waitForMessage(ALICE, (m) => m.photo !== undefined)
    expect(photo.caption).toBe('Usage chart')
    expect(photo.photo?.[0]).toMatchObject({ width: 4, height: 3 })
    const file = sandbox.file(photo.photo?.[0]?.file_id ?? '')
    expect(file?.data.equals(tinyPng(4, 3))).toBe(true)
  })

  it('a button press reaches the bot, which answers it and sends a Stars invoice', async () => {
    const start = sandbox.sendText(ALICE, '/start')
    const welcome = await sandbox.waitForMessage(ALICE, undefined, 2000, {
      afterMessageId: start.message_id,
    })
    const { callbackQueryId } = sandbox.pressButton(ALICE, welcome.message_id, {
      text: 'Buy 100 credits',
    })
    expect(await sandbox.waitForCallbackAnswer(callbackQueryId)).toEqual({ text: 'Invoice sent' })
    const invoice = await sandbox.waitForMessage(ALICE, (m) => m.invoice !== undefined)
    expect(invoice.invoice).toEqual({
      title: PACK.title,
      description: PACK.description,
      start_parameter: '',
      currency: 'XTR',
      total_amount: PACK.amount,
    })
    // A second answer to the same query is refused as Telegram does.
    const again = await callApi(sandbox.apiRoot, sandbox.bot().token, 'answerCallbackQuery', {
      callback_query_id: callbackQueryId,
    })
    expect(again).toMatchObject({
      status: 400,
      ok: false,
      description:
        'Bad Request: query is too old and response timeout expired or query ID is invalid',
    })
  })

  it('pays an invoice: pre_checkout_query answered, then successful_payment reaches the bot', async () => {
    const invoice = await openInvoice()
    const result = await sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
    expect(result.status).toBe('paid')
    if (result.status !== 'paid') return
    expect(result.chargeId).toMatch(/^stxSANDBOX/)
    expect(shop.log.preCheckoutIds).toHaveLength(1)
    await eventually(() => shop.log.successfulPayments.length === 1)
    expect(shop.log.successfulPayments[0]).toEqual({
      currency: 'XTR',
      total_amount: PACK.amount,
      invoice_payload: PACK.payload,
      telegram_payment_charge_id: result.chargeId,
      provider_payment_charge_id: expect.any(String),
    })
    await sandbox.waitForMessage(ALICE, (m) => m.text === 'Thanks! Credits added.')
    expect(sandbox.starBalance()).toBe(PACK.amount)
    expect(sandbox.starTransactions()).toEqual([
      {
        id: result.chargeId,
        amount: PACK.amount,
        date: result.message.date,
        source: {
          type: 'user',
          transaction_type: 'invoice_payment',
          user: expect.objectContaining({ id: ALICE }),
          invoice_payload: PACK.payload,
        },
      },
    ])
  })

  it('paying the same invoice twice makes two charges with distinct ids', async () => {
    const invoice = await openInvoice()
    const first = await sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
    const second = await sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
    expect(first.status).toBe('paid')
    expect(second.status).toBe('paid')
    if (first.status !== 'paid' || second.status !== 'paid') return
    expect(first.chargeId).not.toBe(second.chargeId)
    await eventually(() => shop.log.successfulPayments.length === 2)
    expect(sandbox.starBalance()).toBe(2 * PACK.amount)
  })

  it('a rejected pre-checkout returns the error message and charges nothing', async () => {
    shop.policy.preCheckout = 'reject'
    const invoice = await openInvoice()
    const result = await sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
    expect(result).toEqual({ status: 'rejected', errorMessage: 'Out of stock' })
    expect(sandbox.starTransactions()).toEqual([])
    expect(sandbox.starBalance()).toBe(0)
  })

  it('an unanswered pre-checkout times out and a late answer is refused', async () => {
    shop.policy.preCheckout = 'ignore'
    const invoice = await openInvoice()
    const started = Date.now()
    const result = await sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
    expect(result).toEqual({ status: 'timeout' })
    expect(Date.now() - started).toBeGreaterThanOrEqual(390)
    const late = await callApi(sandbox.apiRoot, sandbox.bot().token, 'answerPreCheckoutQuery', {
      pre_checkout_query_id: shop.log.preCheckoutIds[0],
      ok: true,
    })
    expect(late).toMatchObject({
      status: 400,
      ok: false,
      error_code: 400,
      description:
        'Bad Request: query is too old and response timeout expired or query ID is invalid',
    })
    expect(sandbox.starTransactions()).toEqual([])
    expect(shop.log.successfulPayments).toEqual([])
  })

  it('a duplicated delivery hands the bot the same update twice', async () => {
    sandbox.duplicateNextDelivery()
    const start = sandbox.sendText(ALICE, '/start')
    // The handler counts a start before its reply is sent: wait for the replies themselves.
    const replies = () =>
      sandbox.transcript(ALICE).filter((m) => m.from?.is_bot && m.message_id > start.message_id)
    await eventually(() => replies().length === 2)
    expect(shop.log.starts).toBe(2)
    const [first, second] = shop.log.updateIds
    expect(first).toBe(second)
  })

  it('a dropped delivery never reaches the bot; the next update does', async () => {
    sandbox.dropNextDelivery()
    sandbox.sendText(ALICE, '/start')
    await sleep(150)
    expect(shop.log.starts).toBe(0)
    expect(sandbox.droppedUpdates()).toHaveLength(1)
    sandbox.sendText(ALICE, '/start')
    // The handler counts a start before its reply is sent: wait for the reply itself.
    const replies = () => sandbox.transcript(ALICE).filter((m) => m.from?.is_bot)
    await eventually(() => replies().length === 1)
    expect(shop.log.starts).toBe(1)
    await sleep(150)
    expect(replies()).toHaveLength(1)
  })
})
