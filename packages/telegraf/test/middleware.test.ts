import { randomUUID } from 'node:crypto'
import { billingErrorOf, createEStarsClient, type EStarsClient } from '@e-stars/api/client'
import { defineFeature, listLedger } from '@e-stars/billing'
import { botApiFromTelegraf, starsInvoice } from '@e-stars/telegram'
import { Telegraf } from 'telegraf'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  CHECKOUT_UNAVAILABLE_MESSAGE,
  type EStarsContext,
  type EStarsOptions,
  eStars,
} from '../src/index.ts'
import {
  ALICE,
  BOB,
  CAROL,
  closedPortUrl,
  eventually,
  launchPolling,
  memoryLogger,
  type Stack,
  startFaultyProxy,
  startStack,
} from './stack.ts'

let stack: Stack
let bot: Telegraf<EStarsContext> | null = null

beforeAll(async () => {
  stack = await startStack({ sandbox: { preCheckoutTimeoutMs: 10_000 } })
  // One credit per unit, no quota: the arithmetic of the meter tests stays visible.
  await defineFeature(stack.server.database.db, {
    projectId: stack.projectId,
    key: 'units',
    name: 'Units',
    kind: 'metered',
    credits: 1,
  })
})
afterAll(() => stack?.close())
afterEach(() => {
  bot?.stop('test end')
  bot = null
})

/** A bot with the middleware and a few commands that exercise `ctx.billing`. */
async function startBot(options: Partial<EStarsOptions> & { client?: EStarsClient } = {}) {
  const logger = memoryLogger()
  const b = new Telegraf<EStarsContext>(stack.sandbox.bot().token, {
    telegram: { apiRoot: stack.sandbox.apiRoot },
  })
  b.use(
    eStars({
      client: stack.client,
      logger,
      recordRetry: { attempts: 4, baseDelayMs: 20, maxDelayMs: 80 },
      ...options,
    }),
  )
  b.command('buy', async (ctx) => {
    await ctx.billing.sendInvoice(ctx.payload || 'pack_s')
  })
  // An invoice made without e-Stars, for checkouts while e-Stars is unreachable.
  b.command('raw', async (ctx) => {
    await botApiFromTelegraf(ctx.telegram).sendInvoice({
      chat_id: ctx.chat.id,
      ...starsInvoice({ title: 'Raw', description: 'Raw invoice', payload: 'raw-1', amount: 5 }),
    })
  })
  b.command('access', async (ctx) => {
    const [pro, list] = await Promise.all([ctx.billing.check('pro'), ctx.billing.entitlements()])
    await ctx.reply(
      `pro ${pro.allowed ? 'yes' : 'no'} (${pro.reason}); ${JSON.stringify(list.access)}`,
    )
  })
  b.command('balance', async (ctx) => {
    const balance = await ctx.billing.balance()
    await ctx.reply(`available ${balance.available} held ${balance.held}`)
  })
  b.command('use', async (ctx) => {
    const used = await ctx.billing.consume('units', Number(ctx.payload))
    await ctx.reply(`used ${used.credits}, left ${used.available}`)
  })
  // /work <estimate> <actual|fail>
  b.command('work', async (ctx) => {
    const [estimate, actual] = ctx.payload.split(' ')
    const { settlement } = await ctx.billing.meter('units', Number(estimate), async (r) => {
      await ctx.reply(`reserved ${r.credits}`)
      if (actual === 'fail') throw new Error('the model is down')
      return { result: 'done', quantity: Number(actual) }
    })
    await ctx.reply(`charged ${settlement?.charged}, returned ${settlement?.returned}`)
  })
  b.catch(async (error, ctx) => {
    if (ctx.chat)
      await ctx.reply(`error: ${billingErrorOf(error)?.code ?? (error as Error).message}`)
  })
  await launchPolling(b)
  bot = b
  return { bot: b, logger }
}

async function say(userId: number, text: string, expectText?: string | RegExp) {
  const sent = stack.sandbox.sendText(userId, text)
  return stack.sandbox.waitForMessage(
    userId,
    (m) =>
      expectText === undefined
        ? true
        : typeof expectText === 'string'
          ? (m.text?.includes(expectText) ?? false)
          : expectText.test(m.text ?? ''),
    5000,
    { afterMessageId: sent.message_id },
  )
}

async function invoiceFor(userId: number, command: string) {
  const sent = stack.sandbox.sendText(userId, command)
  return stack.sandbox.waitForMessage(userId, (m) => m.invoice !== undefined, 5000, {
    afterMessageId: sent.message_id,
  })
}

async function fund(userId: number, amount: number) {
  await stack.client.credits.grant.mutate({
    telegramUserId: userId,
    amount,
    reason: 'test funds',
    source: 'promo',
    idempotencyKey: randomUUID(),
  })
}

const ledgerOf = (userId: number) =>
  listLedger(stack.server.database.db, {
    projectId: stack.projectId,
    telegramUserId: userId,
    limit: 200,
  }).then((page) => page.entries)

describe('payments through the middleware', () => {
  it('answers pre-checkout through e-Stars, records the payment once and tells the user', async () => {
    await startBot()
    const invoice = await invoiceFor(ALICE, '/buy pack_s')
    expect(invoice.invoice).toMatchObject({ currency: 'XTR', total_amount: 50 })
    stack.sandbox.duplicateNextDelivery(1)
    const paid = await stack.sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
    expect(paid.status).toBe('paid')
    const thanks = await stack.sandbox.waitForMessage(
      ALICE,
      (m) => m.text?.startsWith('Payment received') ?? false,
      5000,
      { afterMessageId: invoice.message_id },
    )
    expect(thanks.text).toBe('Payment received, thank you! +500 credits. Balance: 500 credits.')
    // The duplicated successful_payment update was recorded as a duplicate and said nothing.
    await eventually(async () => {
      const { payments } = await stack.client.payments.list.query({ telegramUserId: ALICE })
      return payments.length === 1
    })
    const balance = await stack.client.credits.balance.query({ telegramUserId: ALICE })
    expect(balance.available).toBe(500)
    const grants = (await ledgerOf(ALICE)).filter((e) => e.kind === 'grant')
    expect(grants).toHaveLength(1)
    expect(grants[0]?.amount).toBe(500)
    expect(
      stack.sandbox.transcript(ALICE).filter((m) => m.text?.startsWith('Payment received')),
    ).toHaveLength(1)
  })

  it('refuses an invoice e-Stars did not issue, with the reason the server gives', async () => {
    await startBot()
    const invoice = await invoiceFor(BOB, '/raw')
    const paid = await stack.sandbox.payInvoice(BOB, { messageId: invoice.message_id })
    expect(paid).toMatchObject({ status: 'rejected' })
    if (paid.status === 'rejected') expect(paid.errorMessage).toMatch(/not valid/)
  })

  it('a refunded_payment revokes the unspent credits and tells the user once', async () => {
    const { logger } = await startBot()
    const invoice = await invoiceFor(BOB, '/buy pack_s')
    const paid = await stack.sandbox.payInvoice(BOB, { messageId: invoice.message_id })
    if (paid.status !== 'paid') throw new Error('payment failed')
    await stack.sandbox.waitForMessage(BOB, (m) => m.text?.startsWith('Payment received') ?? false)
    stack.sandbox.duplicateNextDelivery(1)
    const refund = stack.sandbox.refundPayment(paid.chargeId)
    const told = await stack.sandbox.waitForMessage(
      BOB,
      (m) => m.text?.startsWith('Your payment of') ?? false,
      5000,
      { afterMessageId: refund.message_id },
    )
    expect(told.text).toBe('Your payment of 50 ⭐ was refunded. 500 unused credits were removed.')
    const balance = await stack.client.credits.balance.query({ telegramUserId: BOB })
    expect(balance.available).toBe(0)
    expect((await ledgerOf(BOB)).map((e) => e.kind)).toContain('revoke')
    // Telegram delivered the refund twice: recorded twice (the second a no-op), told once.
    await eventually(() => logger.lines.filter((l) => l.msg === 'refund recorded').length === 2)
    expect(
      stack.sandbox.transcript(BOB).filter((m) => m.text?.startsWith('Your payment of')),
    ).toHaveLength(1)
  })

  it('a subscription is sent as a link button; paying it grants Pro and its monthly credits', async () => {
    await startBot()
    const before = await say(CAROL, '/access', 'pro')
    expect(before.text).toBe('pro no (no_entitlement); []')
    const offer = await say(CAROL, '/buy plus', 'subscribe')
    expect(offer.text).toBe('Tap the button to subscribe. You can cancel any time.')
    const button = offer.reply_markup?.inline_keyboard?.[0]?.[0]
    expect(button?.text).toBe('Subscribe for 200 ⭐ a month')
    const paid = await stack.sandbox.payInvoice(CAROL, { invoiceLink: button?.url ?? '' })
    expect(paid.status).toBe('paid')
    const thanks = await stack.sandbox.waitForMessage(
      CAROL,
      (m) => m.text?.startsWith('Payment received') ?? false,
      5000,
      { afterMessageId: offer.message_id },
    )
    expect(thanks.text).toMatch(
      /^Payment received, thank you! \+1 500 credits, pro until \d{4}-\d\d-\d\d\./,
    )
    const after = await say(CAROL, '/access', 'pro')
    expect(after.text).toMatch(/^pro yes \(ok\); \[\{"featureKey":"pro","until":"\d{4}-/)
  })

  it('/paysupport explains how to get help and lists the user’s payments with charge ids', async () => {
    await startBot()
    const reply = await say(BOB, '/paysupport', 'Payment support')
    expect(reply.text).toContain('Your recent payments:')
    expect(reply.text).toMatch(/50 ⭐ pack_s — refunded\n {2}id stx/)
  })
})

describe('pre-checkout when e-Stars is down or slow', () => {
  it('e-Stars down: the user gets a clear refusal at once, not a spinner', async () => {
    const down = createEStarsClient({ url: await closedPortUrl(), apiKey: stack.apiKey })
    const { logger } = await startBot({ client: down })
    const invoice = await invoiceFor(ALICE, '/raw')
    const started = Date.now()
    const paid = await stack.sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
    expect(paid).toEqual({ status: 'rejected', errorMessage: CHECKOUT_UNAVAILABLE_MESSAGE })
    // Telegram waits 10 s for the answer: that is the promise, whatever the machine's load.
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(logger.lines.some((l) => l.level === 'warn' && /pre-checkout/.test(l.msg ?? ''))).toBe(
      true,
    )
  })

  it('e-Stars slow: refused after the timeout, well inside Telegram’s 10 seconds', async () => {
    const proxy = await startFaultyProxy(stack.server.url)
    try {
      const client = createEStarsClient({ url: proxy.url, apiKey: stack.apiKey })
      await startBot({ client, precheckTimeoutMs: 500 })
      const invoice = await invoiceFor(ALICE, '/buy pack_s')
      proxy.set('hang')
      const started = Date.now()
      const paid = await stack.sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
      const took = Date.now() - started
      expect(paid).toEqual({ status: 'rejected', errorMessage: CHECKOUT_UNAVAILABLE_MESSAGE })
      expect(took).toBeGreaterThanOrEqual(450)
      expect(took).toBeLessThan(10_000)
      expect(proxy.calls).toContain('checkout.precheck')
    } finally {
      await proxy.close()
    }
  })

  it('the default timeout leaves room inside Telegram’s deadline', async () => {
    const proxy = await startFaultyProxy(stack.server.url)
    try {
      const client = createEStarsClient({ url: proxy.url, apiKey: stack.apiKey })
      await startBot({ client })
      const invoice = await invoiceFor(ALICE, '/buy pack_s')
      proxy.set('hang')
      const started = Date.now()
      const paid = await stack.sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
      expect(paid.status).toBe('rejected')
      expect(Date.now() - started).toBeLessThan(6000)
    } finally {
      await proxy.close()
    }
  })
})

describe('recording payments when e-Stars fails', () => {
  it('retries a transient failure and credits exactly once', async () => {
    const proxy = await startFaultyProxy(stack.server.url)
    try {
      const client = createEStarsClient({ url: proxy.url, apiKey: stack.apiKey })
      const { logger } = await startBot({ client })
      const before = (await stack.client.credits.balance.query({ telegramUserId: ALICE })).available
      const invoice = await invoiceFor(ALICE, '/buy pack_s')
      proxy.fail('payments.record', 2)
      const paid = await stack.sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
      expect(paid.status).toBe('paid')
      const thanks = await stack.sandbox.waitForMessage(
        ALICE,
        (m) => m.text?.startsWith('Payment received') ?? false,
        5000,
        { afterMessageId: invoice.message_id },
      )
      expect(thanks.text).toContain('+500 credits')
      expect(proxy.calls.filter((c) => c === 'payments.record')).toHaveLength(3)
      expect(logger.lines.filter((l) => /retrying/.test(l.msg ?? ''))).toHaveLength(2)
      const after = (await stack.client.credits.balance.query({ telegramUserId: ALICE })).available
      expect(after - before).toBe(500)
    } finally {
      await proxy.close()
    }
  })

  it('never loses a payment: when recording keeps failing it logs loudly and reassures the user', async () => {
    const proxy = await startFaultyProxy(stack.server.url)
    try {
      const client = createEStarsClient({ url: proxy.url, apiKey: stack.apiKey })
      const { logger } = await startBot({ client })
      const invoice = await invoiceFor(BOB, '/buy pack_s')
      proxy.fail('payments.record')
      const paid = await stack.sandbox.payInvoice(BOB, { messageId: invoice.message_id })
      if (paid.status !== 'paid') throw new Error('payment failed')
      const told = await stack.sandbox.waitForMessage(
        BOB,
        (m) => m.text?.includes('catching up') ?? false,
        5000,
        { afterMessageId: invoice.message_id },
      )
      expect(told.text).toMatch(/^Payment received, thank you! It will show on your balance/)
      const alert = logger.lines.find((l) => l.obj.alert === 'PAYMENT_NOT_RECORDED')
      expect(alert?.level).toBe('error')
      expect(alert?.obj).toMatchObject({ chargeId: paid.chargeId, telegramUserId: BOB })
      expect(proxy.calls.filter((c) => c === 'payments.record')).toHaveLength(4)
      // Nothing was recorded: the charge waits for reconciliation.
      await expect(
        stack.client.payments.get.query({ telegramPaymentChargeId: paid.chargeId }),
      ).rejects.toThrow()
    } finally {
      await proxy.close()
    }
  })
})

describe('ctx.billing', () => {
  it('upserts the customer once per process, not once per update', async () => {
    const proxy = await startFaultyProxy(stack.server.url)
    try {
      const client = createEStarsClient({ url: proxy.url, apiKey: stack.apiKey })
      await startBot({ client })
      await say(ALICE, '/balance', 'available')
      await say(ALICE, '/balance', 'available')
      await say(ALICE, '/balance', 'available')
      expect(proxy.calls.filter((c) => c === 'customers.upsert')).toHaveLength(1)
      expect(proxy.calls.filter((c) => c === 'credits.balance')).toHaveLength(3)
    } finally {
      await proxy.close()
    }
  })

  it('consume charges once per update, even when Telegram delivers it twice', async () => {
    await startBot()
    await fund(BOB, 100)
    stack.sandbox.duplicateNextDelivery(1)
    const reply = await say(BOB, '/use 30', 'used')
    expect(reply.text).toBe('used 30, left 70')
    await eventually(
      () => stack.sandbox.transcript(BOB).filter((m) => m.text?.startsWith('used 30')).length === 2,
    )
    const balance = await stack.client.credits.balance.query({ telegramUserId: BOB })
    expect(balance.available).toBe(70)
    expect((await ledgerOf(BOB)).filter((e) => e.kind === 'consume')).toHaveLength(1)
  })

  it('consume refused: a typed error reaches bot.catch and nothing is charged', async () => {
    await startBot()
    const reply = await say(BOB, '/use 1000', 'error')
    expect(reply.text).toBe('error: INSUFFICIENT_CREDITS')
    expect((await stack.client.credits.balance.query({ telegramUserId: BOB })).available).toBe(70)
  })

  it('meter settles the actual units: less than the estimate returns the rest', async () => {
    await startBot()
    await fund(ALICE, 100)
    const before = await stack.client.credits.balance.query({ telegramUserId: ALICE })
    const reply = await say(ALICE, '/work 40 25', 'charged')
    expect(reply.text).toBe('charged 25, returned 15')
    const after = await stack.client.credits.balance.query({ telegramUserId: ALICE })
    expect(after.available).toBe(before.available - 25)
    expect(after.held).toBe(0)
    const [settle, hold] = await ledgerOf(ALICE)
    expect(hold?.kind).toBe('hold')
    expect(settle?.kind).toBe('settle')
  })

  it('meter releases the reservation when the work throws, and the error reaches the bot', async () => {
    await startBot()
    const before = await stack.client.credits.balance.query({ telegramUserId: ALICE })
    const reply = await say(ALICE, '/work 40 fail', 'error')
    expect(reply.text).toBe('error: the model is down')
    expect(stack.sandbox.transcript(ALICE).some((m) => m.text === 'reserved 40')).toBe(true)
    const after = await stack.client.credits.balance.query({ telegramUserId: ALICE })
    expect(after).toMatchObject({ available: before.available, held: 0 })
    const [release, hold] = await ledgerOf(ALICE)
    expect(hold).toMatchObject({ kind: 'hold', heldChange: 40 })
    expect(release).toMatchObject({ kind: 'release', heldChange: -40, amount: 40 })
  })

  it('meter refuses before the work runs when the estimate is more than the balance', async () => {
    await startBot()
    const before = await stack.client.credits.balance.query({ telegramUserId: ALICE })
    const reply = await say(ALICE, `/work ${before.available + 1} 1`, 'error')
    expect(reply.text).toBe('error: INSUFFICIENT_CREDITS')
    expect(stack.sandbox.transcript(ALICE).at(-2)?.text).toBe(`/work ${before.available + 1} 1`)
  })
})
