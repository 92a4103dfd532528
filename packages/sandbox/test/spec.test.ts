import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BOT_API_METHODS,
  createSandbox,
  type Message,
  type Sandbox,
  type Update,
} from '../src/index.ts'
import { referencedTypes, resultErrors, shapeErrors, spec, undefinedTypes } from './conformance.ts'
import { callApi } from './helpers.ts'

const ALICE = 2_000_001

describe(`the subset itself (${spec.version})`, () => {
  it('is Bot API 10.3 and has Update.subscription (10.2)', () => {
    expect(spec.version).toBe('Bot API 10.3')
    expect(spec.types.Update?.subscription).toEqual({
      types: ['BotSubscriptionUpdated'],
      required: false,
    })
    expect(Object.keys(spec.types.BotSubscriptionUpdated ?? {}).sort()).toEqual([
      'invoice_payload',
      'state',
      'user',
    ])
  })

  it('defines every type it references (methods, results, fields, union members)', () => {
    expect(referencedTypes().size).toBeGreaterThan(200)
    expect(undefinedTypes()).toEqual([])
  })

  it('a referenced type missing from the subset is found, and never passes a shape check', () => {
    const { MessageEntity: _dropped, ...types } = spec.types
    expect(undefinedTypes({ ...spec, types })).toEqual([
      'MessageEntity (referenced by sendMessage.entities)',
    ])
    expect(shapeErrors('NoSuchType', {}, 'x')).toEqual([
      'x: type NoSuchType is not defined in the subset',
    ])
  })

  it('tells union members apart by their constant type field', () => {
    const pending = { type: 'pending' }
    expect(shapeErrors('RevenueWithdrawalState', pending, 's')).toEqual([])
    expect(shapeErrors('RevenueWithdrawalState', { type: 'succeeded' }, 's')).not.toEqual([])
    expect(shapeErrors('TransactionPartner', { type: 'users' }, 'p')).not.toEqual([])
  })
})

describe(`agreement with ${spec.version} (spec/stars-subset.json)`, () => {
  let sandbox: Sandbox
  let token: string
  const api = (method: string, params: Record<string, unknown> = {}) =>
    callApi(sandbox.apiRoot, token, method, params)
  const answered = new Set<string>()

  beforeAll(async () => {
    sandbox = await createSandbox({ users: [{ id: ALICE, firstName: 'Alice' }] })
    token = sandbox.bot().token
    sandbox.sendText(ALICE, '/start')
  })
  afterAll(() => sandbox.close())

  const invoice = {
    title: 'Pack',
    description: 'Credits',
    payload: 'p-1',
    currency: 'XTR',
    prices: [{ label: 'Pack', amount: 10 }],
  }

  /** Starts paying a fresh invoice link and returns its still-unanswered pre-checkout query. */
  async function pendingPreCheckout(extra: Record<string, unknown> = {}) {
    const link = (await api('createInvoiceLink', { ...invoice, ...extra })).result as string
    const paying = sandbox.payInvoice(ALICE, { invoiceLink: link })
    const updates = (await api('getUpdates')).result as Update[]
    const query = updates
      .map((u) => u.pre_checkout_query)
      .find((q) => q !== undefined && !answered.has(q.id))
    if (!query) throw new Error('no pre_checkout_query')
    answered.add(query.id)
    return { id: query.id, paying }
  }

  async function paidCharge(extra: Record<string, unknown> = {}): Promise<string> {
    const { id, paying } = await pendingPreCheckout(extra)
    await api('answerPreCheckoutQuery', { pre_checkout_query_id: id, ok: true })
    const result = await paying
    if (result.status !== 'paid') throw new Error(result.status)
    return result.chargeId
  }

  // Valid parameters for each method (fixtures are made just before the call).
  const valid: Record<string, () => Promise<Record<string, unknown>>> = {
    setWebhook: async () => ({ url: 'http://127.0.0.1:9/unreachable' }),
    sendMessage: async () => ({ chat_id: ALICE, text: 'hi' }),
    editMessageText: async () => {
      const sent = (await api('sendMessage', { chat_id: ALICE, text: 'before' })).result as Message
      return { chat_id: ALICE, message_id: sent.message_id, text: 'after' }
    },
    answerCallbackQuery: async () => {
      const sent = (
        await api('sendMessage', {
          chat_id: ALICE,
          text: 'menu',
          reply_markup: { inline_keyboard: [[{ text: 'Go', callback_data: 'go' }]] },
        })
      ).result as Message
      return {
        callback_query_id: sandbox.pressButton(ALICE, sent.message_id, { data: 'go' })
          .callbackQueryId,
      }
    },
    sendPhoto: async () => ({ chat_id: ALICE, photo: 'AgACAgSANDBOXphoto' }),
    sendPaidMedia: async () => ({
      chat_id: ALICE,
      star_count: 5,
      media: [{ type: 'photo', media: 'AgACAgSANDBOXphoto' }],
    }),
    sendInvoice: async () => ({ chat_id: ALICE, ...invoice }),
    createInvoiceLink: async () => ({ ...invoice, subscription_period: 2_592_000 }),
    answerPreCheckoutQuery: async () => {
      const { id } = await pendingPreCheckout()
      return { pre_checkout_query_id: id, ok: true }
    },
    refundStarPayment: async () => ({
      user_id: ALICE,
      telegram_payment_charge_id: await paidCharge(),
    }),
    editUserStarSubscription: async () => ({
      user_id: ALICE,
      telegram_payment_charge_id: await paidCharge({ subscription_period: 2_592_000 }),
      is_canceled: true,
    }),
  }

  it('implements every method of the subset, and the subset lists every method it implements', () => {
    expect([...BOT_API_METHODS].sort()).toEqual(Object.keys(spec.methods).sort())
  })

  // Required parameters the Bot API server reads with a default instead of refusing their
  // absence (to_bool): the call then succeeds, as it does with Telegram.
  const readWithDefault = new Set(['editUserStarSubscription.is_canceled'])

  const order = Object.keys(spec.methods).filter((m) => m !== 'getUpdates')
  for (const method of order) {
    it(`${method}: required parameters are enforced and the result carries the spec's fields`, async () => {
      const params = (await valid[method]?.()) ?? {}
      const required = Object.entries(spec.methods[method]?.fields ?? {})
        .filter(([, f]) => f.required)
        .map(([name]) => name)
      expect(required.every((name) => name in params)).toBe(true)
      for (const name of required) {
        const { [name]: _omitted, ...without } = params
        const reply = await api(method, without)
        expect(reply, `${method} without ${name}`).toMatchObject(
          readWithDefault.has(`${method}.${name}`) ? { ok: true } : { ok: false, error_code: 400 },
        )
      }
      const reply = await api(method, params)
      expect(reply, `${method} with every required parameter`).toMatchObject({ ok: true })
      expect(resultErrors(method, reply.result)).toEqual([])
      if (method === 'setWebhook') await api('deleteWebhook')
    })
  }

  it("getUpdates: every update so far (messages, payments, refunds, callbacks) has the spec's shape", async () => {
    sandbox.refundPayment(await paidCharge())
    const updates = (await api('getUpdates')).result as Update[]
    const kinds = new Set(
      updates.flatMap((u) => [
        ...Object.keys(u).filter((k) => k !== 'update_id'),
        ...Object.keys(u.message ?? {}).filter((k) => k.endsWith('_payment')),
      ]),
    )
    expect([...kinds].sort()).toEqual([
      'callback_query',
      'message',
      'pre_checkout_query',
      'refunded_payment',
      'successful_payment',
    ])
    expect(resultErrors('getUpdates', updates)).toEqual([])
    const rows = (await api('getStarTransactions')).result
    expect(shapeErrors('StarTransactions', rows, 'ledger')).toEqual([])
  })
})
