import type { EStarsClient } from '@e-stars/client'
import { describe, expect, it } from 'vitest'
import { type BotChannel, createEStarsCore } from '../src/adapter.ts'
import {
  CHECKOUT_UNAVAILABLE_MESSAGE,
  DEFAULT_MESSAGES,
  type EStarsOptions,
  isTransient,
  NoUserError,
} from '../src/index.ts'
import { memoryLogger } from '../testing/memory-logger.ts'

/** The core without any framework: what an adapter would hand it, and what it sent back. */
function fakeChannel(update: { update_id: number } & Record<string, unknown>, from = USER) {
  const answers: [boolean, string | undefined][] = []
  const sent: { chatId: number; text: string }[] = []
  const channel: BotChannel = {
    update,
    botId: 7,
    from,
    chatId: from.id,
    async answerPreCheckoutQuery(ok, errorMessage) {
      answers.push([ok, errorMessage])
    },
    async sendMessage(chatId, text) {
      sent.push({ chatId, text })
      return { message_id: sent.length, date: 0 }
    },
    async sendInvoice() {
      return { message_id: 0, date: 0 }
    },
  }
  return { channel, answers, sent }
}

const USER = { id: 42, is_bot: false, first_name: 'Alice' }
const chat = { id: 42, type: 'private' }
const charge = {
  currency: 'XTR',
  total_amount: 50,
  invoice_payload: 'o1',
  telegram_payment_charge_id: 'stx-1',
  provider_payment_charge_id: '',
}
const preCheckout = (id: number) => ({
  update_id: id,
  pre_checkout_query: {
    id: `q${id}`,
    from: USER,
    currency: 'XTR',
    total_amount: 50,
    invoice_payload: 'o1',
  },
})
const paymentMessage = (id: number, key: 'successful_payment' | 'refunded_payment') => ({
  update_id: id,
  message: { message_id: id, date: 0, from: USER, chat, [key]: charge },
})

/** A client whose procedures are the given functions (the rest are never called here). */
function fakeClient(
  procedures: Record<string, (input: unknown, opts?: { signal?: AbortSignal }) => Promise<unknown>>,
) {
  const calls: { path: string; input: unknown }[] = []
  const client = new Proxy(
    {},
    {
      get: (_, area: string) =>
        new Proxy(
          {},
          {
            get: (_, name: string) => {
              const call = (input: unknown, opts?: { signal?: AbortSignal }) => {
                const path = `${area}.${name}`
                calls.push({ path, input })
                const run = procedures[path]
                if (!run) throw new Error(`unexpected call to ${path}`)
                return run(input, opts)
              }
              return { mutate: call, query: call }
            },
          },
        ),
    },
  ) as EStarsClient
  return { client, calls }
}

const transient = () => Promise.reject(new TypeError('fetch failed'))
const trpcError = (httpStatus: number) =>
  Object.assign(new Error('refused'), { name: 'TRPCClientError', data: { httpStatus }, shape: {} })

function core(client: EStarsClient, options: Partial<EStarsOptions> = {}) {
  const logger = memoryLogger()
  const c = createEStarsCore({
    client,
    logger,
    recordRetry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    ...options,
  })
  return { core: c, logger }
}

describe('the framework-neutral core', () => {
  it('refuses a pre-checkout politely when e-Stars hangs past the timeout, and stops the update there', async () => {
    const { client } = fakeClient({
      'checkout.precheck': (_, opts) =>
        new Promise((_, reject) =>
          opts?.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
        ),
    })
    const { core: c, logger } = core(client, { precheckTimeoutMs: 50 })
    const { channel, answers } = fakeChannel(preCheckout(1))
    const started = Date.now()
    expect(await c.handle(channel, c.billingFor(channel))).toBe('answered')
    expect(Date.now() - started).toBeGreaterThanOrEqual(45)
    expect(answers).toEqual([[false, CHECKOUT_UNAVAILABLE_MESSAGE]])
    expect(logger.lines.some((l) => l.level === 'warn' && /pre-checkout/.test(l.msg ?? ''))).toBe(
      true,
    )
  })

  it('never drops a payment: transient failures are retried, then logged for reconciliation and the user reassured', async () => {
    const { client, calls } = fakeClient({ 'payments.record': transient })
    const { core: c, logger } = core(client)
    const { channel, sent } = fakeChannel(paymentMessage(2, 'successful_payment'))
    const billing = c.billingFor(channel)
    expect(await c.handle(channel, billing)).toBe('next')
    expect(calls.filter((call) => call.path === 'payments.record')).toHaveLength(3)
    expect(billing.payment).toMatchObject({ recorded: false, transient: true })
    expect(logger.lines.find((l) => l.obj.alert === 'PAYMENT_NOT_RECORDED')).toMatchObject({
      level: 'error',
      obj: { chargeId: 'stx-1', telegramUserId: 42, payment: charge },
    })
    expect(sent).toEqual([{ chatId: 42, text: DEFAULT_MESSAGES.paymentPending }])
  })

  it('does not retry a refusal: a 4xx is an answer', async () => {
    const { client, calls } = fakeClient({
      'payments.record': () => Promise.reject(trpcError(400)),
    })
    const { core: c } = core(client)
    const { channel } = fakeChannel(paymentMessage(3, 'successful_payment'))
    const billing = c.billingFor(channel)
    await c.handle(channel, billing)
    expect(calls).toHaveLength(1)
    expect(billing.payment).toMatchObject({ recorded: false, transient: false })
  })

  it('tells the user about a refund once per charge, however often it is delivered', async () => {
    const outcome = { voided: 500, repaidFromOtherLots: 0, debtAdded: 0, entitlementsRevoked: 0 }
    const { client, calls } = fakeClient({ 'payments.recordRefund': async () => outcome })
    const { core: c } = core(client)
    const told: string[] = []
    for (let i = 0; i < 3; i++) {
      const { channel, sent } = fakeChannel(paymentMessage(10, 'refunded_payment'))
      await c.handle(channel, c.billingFor(channel))
      told.push(...sent.map((m) => m.text))
    }
    expect(calls).toHaveLength(3)
    expect(told).toEqual(['Your payment of 50 ⭐ was refunded. 500 unused credits were removed.'])
  })

  it('a refund that cannot be recorded is logged for reconciliation, and the user is not told it happened', async () => {
    const { client, calls } = fakeClient({ 'payments.recordRefund': transient })
    const { core: c, logger } = core(client)
    const { channel, sent } = fakeChannel(paymentMessage(11, 'refunded_payment'))
    const billing = c.billingFor(channel)
    expect(await c.handle(channel, billing)).toBe('next')
    expect(calls).toHaveLength(3)
    expect(billing.refund).toMatchObject({ recorded: false, transient: true })
    expect(logger.lines.find((l) => l.obj.alert === 'REFUND_NOT_RECORDED')).toMatchObject({
      level: 'error',
      obj: { chargeId: 'stx-1', refund: charge },
      msg: expect.stringMatching(/^REFUND NOT RECORDED: /),
    })
    expect(sent).toEqual([])
  })

  it('logs a malformed payment update loudly and passes the update on', async () => {
    const { client, calls } = fakeClient({})
    const { core: c, logger } = core(client)
    const { channel } = fakeChannel({
      update_id: 4,
      message: { successful_payment: { total_amount: 'x' } },
    })
    expect(await c.handle(channel, c.billingFor(channel))).toBe('next')
    expect(calls).toEqual([])
    expect(logger.lines.find((l) => l.obj.alert === 'MALFORMED_PAYMENT_UPDATE')?.level).toBe(
      'error',
    )
  })

  it('derives idempotency keys from the bot and the update: a redelivery repeats them, a second call does not', async () => {
    const { client, calls } = fakeClient({
      'customers.upsert': async () => ({}),
      'usage.consumeFeature': async () => ({}),
    })
    const { core: c } = core(client)
    for (const delivery of [1, 2]) {
      const { channel } = fakeChannel({ update_id: 100, message: { text: `/use ${delivery}` } })
      const billing = c.billingFor(channel)
      await billing.consume('units', 1)
      await billing.consume('units', 1)
    }
    const keys = calls
      .filter((call) => call.path === 'usage.consumeFeature')
      .map((call) => (call.input as { idempotencyKey: string }).idempotencyKey)
    expect(keys).toEqual([
      'tg:7:100:consume:units:1',
      'tg:7:100:consume:units:2',
      'tg:7:100:consume:units:1',
      'tg:7:100:consume:units:2',
    ])
    // The customer is upserted once per process, not once per update.
    expect(calls.filter((call) => call.path === 'customers.upsert')).toHaveLength(1)
  })

  it('bills no one for an update sent by a bot', async () => {
    const { core: c } = core(fakeClient({}).client)
    const { channel } = fakeChannel({ update_id: 5 }, { ...USER, is_bot: true })
    await expect(c.billingFor(channel).balance()).rejects.toThrow(NoUserError)
  })
})

describe('isTransient', () => {
  it.each([
    ['no answer at all (fetch failed)', new TypeError('fetch failed'), true],
    ['a timeout', Object.assign(new Error('t'), { name: 'TimeoutError' }), true],
    ['a 502 from a proxy', trpcError(502), true],
    ['a 429', trpcError(429), true],
    ['a 400', trpcError(400), false],
    ['a 412 (insufficient credits)', trpcError(412), false],
    [
      'a tRPC error with no HTTP answer',
      Object.assign(new Error('x'), { name: 'TRPCClientError' }),
      true,
    ],
    ['anything else', new Error('bug'), false],
  ])('%s → %s', (_, error, expected) => {
    expect(isTransient(error)).toBe(expected)
  })
})
