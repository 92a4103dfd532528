import { afterEach, describe, expect, it } from 'vitest'
import {
  allStarTransactions,
  type BotApi,
  createBotApi,
  MalformedPaymentUpdateError,
  parsePaymentUpdate,
  type StarTransaction,
  StarTransactionSchema,
  starTransactionKind,
} from '../src/index.ts'
import {
  chargeTx,
  firstSubscriptionPaymentUpdate,
  oneTimePaymentUpdate,
  payer,
  preCheckoutUpdate,
  privateChat,
  refundedPaymentUpdate,
  refundTx,
  TOKEN,
  textMessageUpdate,
  withdrawalTx,
} from './fixtures.ts'
import { ok, startStub } from './stub-server.ts'

describe('parsePaymentUpdate', () => {
  it('one-time successful_payment: payment, payer, chat, message id and date; no subscription flags', () => {
    const parsed = parsePaymentUpdate(oneTimePaymentUpdate)
    expect(parsed).toEqual({
      kind: 'successful_payment',
      updateId: 912000101,
      payment: oneTimePaymentUpdate.message.successful_payment,
      from: payer,
      chat: privateChat,
      messageId: 1201,
      date: 1781000000,
    })
    if (parsed?.kind !== 'successful_payment') throw new Error('unreachable')
    expect(parsed.payment.is_recurring).toBeUndefined()
    expect(parsed.payment.subscription_expiration_date).toBeUndefined()
  })

  it('first subscription payment keeps expiration date and both recurring flags', () => {
    const parsed = parsePaymentUpdate(firstSubscriptionPaymentUpdate)
    expect(parsed?.kind).toBe('successful_payment')
    if (parsed?.kind !== 'successful_payment') throw new Error('unreachable')
    expect(parsed.payment).toMatchObject({
      subscription_expiration_date: 1783592100,
      is_recurring: true,
      is_first_recurring: true,
      telegram_payment_charge_id: 'stxSUBfirst000000000000000000000000000001',
    })
  })

  it('renewal: is_recurring without is_first_recurring', () => {
    const renewal = structuredClone(firstSubscriptionPaymentUpdate)
    Reflect.deleteProperty(renewal.message.successful_payment, 'is_first_recurring')
    const parsed = parsePaymentUpdate(renewal)
    if (parsed?.kind !== 'successful_payment') throw new Error('expected a payment')
    expect(parsed.payment.is_recurring).toBe(true)
    expect(parsed.payment.is_first_recurring).toBeUndefined()
  })

  it('refunded_payment (provider_payment_charge_id optional)', () => {
    expect(parsePaymentUpdate(refundedPaymentUpdate)).toEqual({
      kind: 'refunded_payment',
      updateId: 912000103,
      refund: refundedPaymentUpdate.message.refunded_payment,
      from: payer,
      chat: privateChat,
      messageId: 1203,
      date: 1781000200,
    })
  })

  it('pre_checkout_query', () => {
    expect(parsePaymentUpdate(preCheckoutUpdate)).toEqual({
      kind: 'pre_checkout_query',
      updateId: 912000100,
      query: preCheckoutUpdate.pre_checkout_query,
    })
  })

  it('unrelated updates are null', () => {
    expect(parsePaymentUpdate(textMessageUpdate)).toBeNull()
    expect(
      parsePaymentUpdate({
        update_id: 1,
        callback_query: { id: 'c', from: payer, chat_instance: 'i', data: 'buy' },
      }),
    ).toBeNull()
    expect(
      parsePaymentUpdate({ update_id: 2, edited_message: oneTimePaymentUpdate.message }),
    ).toBeNull()
    expect(parsePaymentUpdate(null)).toBeNull()
    expect(parsePaymentUpdate('update')).toBeNull()
  })

  it('malformed payment updates throw MalformedPaymentUpdateError naming the field', () => {
    const noCharge = structuredClone(oneTimePaymentUpdate) as {
      message: { successful_payment: Record<string, unknown> }
    }
    Reflect.deleteProperty(noCharge.message.successful_payment, 'telegram_payment_charge_id')
    const stringAmount = structuredClone(refundedPaymentUpdate) as {
      message: { refunded_payment: Record<string, unknown> }
    }
    stringAmount.message.refunded_payment.total_amount = '250'
    const noFrom = structuredClone(preCheckoutUpdate) as {
      pre_checkout_query: Record<string, unknown>
    }
    Reflect.deleteProperty(noFrom.pre_checkout_query, 'from')
    const paymentWithoutPayer = structuredClone(oneTimePaymentUpdate) as {
      message: Record<string, unknown>
    }
    Reflect.deleteProperty(paymentWithoutPayer.message, 'from')

    const cases: Array<[unknown, string, string]> = [
      [noCharge, 'successful_payment', 'telegram_payment_charge_id'],
      [stringAmount, 'refunded_payment', 'total_amount'],
      [noFrom, 'pre_checkout_query', 'from'],
      [paymentWithoutPayer, 'successful_payment', 'from'],
      [
        { update_id: 9, message: { ...oneTimePaymentUpdate.message, successful_payment: 'paid' } },
        'successful_payment',
        'successful_payment',
      ],
    ]
    for (const [update, kind, field] of cases) {
      let thrown: unknown
      try {
        parsePaymentUpdate(update)
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(MalformedPaymentUpdateError)
      expect(thrown).toMatchObject({ kind })
      expect((thrown as MalformedPaymentUpdateError).issues.join('\n')).toContain(field)
    }
  })
})

describe('starTransactionKind', () => {
  it('user under source is a charge, under receiver a refund, anything else other', () => {
    expect(starTransactionKind(StarTransactionSchema.parse(chargeTx))).toBe('charge')
    expect(starTransactionKind(StarTransactionSchema.parse(refundTx))).toBe('refund')
    expect(starTransactionKind(StarTransactionSchema.parse(withdrawalTx))).toBe('other')
    expect(
      starTransactionKind(
        StarTransactionSchema.parse({
          id: 'ads',
          amount: 5,
          date: 1,
          receiver: { type: 'telegram_ads' },
        }),
      ),
    ).toBe('other')
  })

  it('Stars the bot sends a user for a gift or Premium are not refunds', () => {
    const user = { id: 7, is_bot: false, first_name: 'Gia' }
    const sent = (transaction_type: string) =>
      StarTransactionSchema.parse({
        id: `g-${transaction_type}`,
        amount: 50,
        date: 1,
        receiver: { type: 'user', transaction_type, user },
      })
    expect(starTransactionKind(sent('gift_purchase'))).toBe('other')
    expect(starTransactionKind(sent('premium_purchase'))).toBe('other')
    expect(starTransactionKind(sent('invoice_payment'))).toBe('refund')
  })

  it('the schema keeps unknown partner types but refuses a user partner without a user', () => {
    expect(StarTransactionSchema.parse(withdrawalTx).receiver).toEqual(withdrawalTx.receiver)
    expect(StarTransactionSchema.safeParse({ ...chargeTx, source: { type: 'user' } }).success).toBe(
      false,
    )
  })
})

describe('allStarTransactions', () => {
  let stub: Awaited<ReturnType<typeof startStub>> | undefined
  afterEach(async () => {
    await stub?.close()
    stub = undefined
  })

  const ledger: StarTransaction[] = Array.from({ length: 7 }, (_, i) => ({
    id: `stx${i}`,
    amount: 10 + i,
    date: 1781000000 + i,
    source: { type: 'user', transaction_type: 'invoice_payment', user: payer },
  }))

  it('pages with offset until a short page and yields every row once, in server order', async () => {
    stub = await startStub((r) => {
      const offset = Number(r.body.offset ?? 0)
      const limit = Number(r.body.limit ?? 100)
      return ok({ transactions: ledger.slice(offset, offset + limit) })
    })
    const api = createBotApi({ token: TOKEN, apiRoot: stub.apiRoot })
    const seen: string[] = []
    for await (const tx of allStarTransactions(api, { pageSize: 3 })) seen.push(tx.id)
    expect(seen).toEqual(ledger.map((tx) => tx.id))
    expect(stub.requests.map((r) => r.body)).toEqual([
      { offset: 0, limit: 3 },
      { offset: 3, limit: 3 },
      { offset: 6, limit: 3 },
    ])
  })

  it('an exactly full last page costs one more (empty) request, then stops', async () => {
    const six = ledger.slice(0, 6)
    const calls: Array<{ offset?: number; limit?: number } | undefined> = []
    const api: Pick<BotApi, 'getStarTransactions'> = {
      getStarTransactions: async (params) => {
        calls.push(params)
        const offset = params?.offset ?? 0
        return { transactions: six.slice(offset, offset + (params?.limit ?? 100)) }
      },
    }
    const ids: string[] = []
    for await (const tx of allStarTransactions(api, { pageSize: 3 })) ids.push(tx.id)
    expect(ids).toHaveLength(6)
    expect(calls.map((c) => c?.offset)).toEqual([0, 3, 6])
  })

  it('a row shifted into the next page by a new transaction is not yielded twice; refund with the same id is', async () => {
    // Newest-first server: a payment lands between the two page requests.
    const refundOf0: StarTransaction = {
      id: 'stx0',
      amount: 10,
      date: 1781000100,
      receiver: { type: 'user', user: payer },
    }
    const pages = [[ledger[2], ledger[1]], [ledger[1], refundOf0], []] as StarTransaction[][]
    let call = 0
    const api: Pick<BotApi, 'getStarTransactions'> = {
      getStarTransactions: async () => ({ transactions: pages[call++] ?? [] }),
    }
    const rows: string[] = []
    for await (const tx of allStarTransactions(api, { pageSize: 2 }))
      rows.push(`${starTransactionKind(tx)}:${tx.id}`)
    expect(rows).toEqual(['charge:stx2', 'charge:stx1', 'refund:stx0'])
  })

  it('the default page size is 100 and pageSize outside 1–100 is refused', async () => {
    const limits: Array<number | undefined> = []
    const api: Pick<BotApi, 'getStarTransactions'> = {
      getStarTransactions: async (params) => {
        limits.push(params?.limit)
        return { transactions: [] }
      },
    }
    for await (const _ of allStarTransactions(api)) {
      // no rows
    }
    expect(limits).toEqual([100])
    await expect(allStarTransactions(api, { pageSize: 101 }).next()).rejects.toThrow(RangeError)
    await expect(allStarTransactions(api, { pageSize: 0 }).next()).rejects.toThrow(RangeError)
  })
})
