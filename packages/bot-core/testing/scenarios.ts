import { randomUUID } from 'node:crypto'
import { billingErrorOf, createEStarsClient, type EStarsClient } from '@e-stars/client'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Billing, EStarsOptions } from '../src/index.ts'
import { CHECKOUT_UNAVAILABLE_MESSAGE } from '../src/index.ts'
import { closedPortUrl, eventually, startFaultyProxy } from './faults.ts'
import { memoryLogger } from './memory-logger.ts'

/**
 * The adapters' shared scenarios: a real bot of one framework (Telegraf, grammY) with the
 * adapter and the commands below, against the Telegram sandbox and an in-process e-Stars
 * server, with e-Stars down, hanging and failing. Written once, run by each adapter's test.
 */

/** The parts of a sandbox message the scenarios read. */
export interface SandboxMessage {
  message_id: number
  text?: string | undefined
  invoice?: { currency: string; total_amount: number } | undefined
  reply_markup?: { inline_keyboard?: { text: string; url?: string | undefined }[][] } | undefined
}

/** The parts of the sandbox (packages/sandbox) the scenarios drive. */
export interface SandboxView {
  sendText(userId: number, text: string): SandboxMessage
  waitForMessage(
    userId: number,
    predicate?: (message: SandboxMessage) => boolean,
    timeoutMs?: number,
    options?: { afterMessageId?: number },
  ): Promise<SandboxMessage>
  payInvoice(
    userId: number,
    invoice: { messageId: number } | { invoiceLink: string },
  ): Promise<
    | { status: 'paid'; chargeId: string }
    | { status: 'rejected'; errorMessage: string }
    | { status: 'timeout' }
  >
  duplicateNextDelivery(count?: number): void
  refundPayment(chargeId: string): SandboxMessage
  transcript(userId: number): SandboxMessage[]
}

/** The world of @e-stars/server/testing's `startStack`, as the scenarios see it. */
export interface StackView {
  sandbox: SandboxView
  server: { url: string }
  apiKey: string
  client: EStarsClient
}

/** What an adapter's test supplies. */
export interface AdapterWorld {
  stack(): StackView
  users: { ALICE: number; BOB: number; CAROL: number }
  /**
   * Starts a bot polling the sandbox with the adapter (`options` over the defaults), the
   * `SCENARIO_COMMANDS`, a `/raw` command sending a Stars invoice e-Stars did not issue, and an
   * error handler replying `error: <billing code or message>` (see `errorReply`).
   */
  startBot(options: EStarsOptions): Promise<void>
  ledgerOf(userId: number): Promise<{ kind: string; amount: number; heldChange: number }[]>
}

/** What a command handler needs of a context, whichever framework made it. */
export interface CommandContext {
  billing: Billing
  /** The text after the command. */
  payload: string
  reply(text: string): Promise<unknown>
}

/** The commands that exercise `ctx.billing`; each adapter's test registers them as they are. */
export const SCENARIO_COMMANDS: Record<string, (ctx: CommandContext) => Promise<void>> = {
  async buy(ctx) {
    await ctx.billing.sendInvoice(ctx.payload || 'pack_s')
  },
  async access(ctx) {
    const [pro, list] = await Promise.all([ctx.billing.check('pro'), ctx.billing.entitlements()])
    await ctx.reply(
      `pro ${pro.allowed ? 'yes' : 'no'} (${pro.reason}); ${JSON.stringify(list.access)}`,
    )
  },
  async balance(ctx) {
    const balance = await ctx.billing.balance()
    await ctx.reply(`available ${balance.available} held ${balance.held}`)
  },
  async use(ctx) {
    const used = await ctx.billing.consume('units', Number(ctx.payload))
    await ctx.reply(`used ${used.credits}, left ${used.available}`)
  },
  // /work <estimate> <actual|fail>
  async work(ctx) {
    const [estimate, actual] = ctx.payload.split(' ')
    const { settlement } = await ctx.billing.meter('units', Number(estimate), async (r) => {
      await ctx.reply(`reserved ${r.credits}`)
      if (actual === 'fail') throw new Error('the model is down')
      return { result: 'done', quantity: Number(actual) }
    })
    await ctx.reply(`charged ${settlement?.charged}, returned ${settlement?.returned}`)
  },
}

/** What the bots' error handler answers. */
export const errorReply = (error: unknown) =>
  `error: ${billingErrorOf(error)?.code ?? (error as Error).message}`

export function describeAdapterScenarios(world: AdapterWorld) {
  let stack: StackView
  const { ALICE, BOB, CAROL } = world.users
  beforeAll(() => {
    stack = world.stack()
  })

  /** Runs `scenario` with a client that reaches e-Stars through a proxy it can make misbehave. */
  async function throughFaultyProxy(
    scenario: (
      proxy: Awaited<ReturnType<typeof startFaultyProxy>>,
      client: EStarsClient,
    ) => Promise<void>,
  ) {
    const proxy = await startFaultyProxy(stack.server.url)
    try {
      await scenario(proxy, createEStarsClient({ url: proxy.url, apiKey: stack.apiKey }))
    } finally {
      await proxy.close()
    }
  }

  async function startBot(options: Partial<EStarsOptions> = {}) {
    const logger = memoryLogger()
    await world.startBot({
      client: stack.client,
      logger,
      recordRetry: { attempts: 4, baseDelayMs: 20, maxDelayMs: 80 },
      ...options,
    })
    return { logger }
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

  const ledgerOf = (userId: number) => world.ledgerOf(userId)

  describe('payments through the adapter', () => {
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
      await stack.sandbox.waitForMessage(
        BOB,
        (m) => m.text?.startsWith('Payment received') ?? false,
      )
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
        /^Payment received, thank you! \+1,500 credits, pro until \d{4}-\d\d-\d\d\./,
      )
      const after = await say(CAROL, '/access', 'pro')
      expect(after.text).toMatch(/^pro yes \(ok\); \[\{"featureKey":"pro","until":"\d{4}-/)
    })

    it('/paysupport explains how to get help and lists the user’s payments with charge ids', async () => {
      await startBot()
      const reply = await say(BOB, '/paysupport', 'Payment support')
      expect(reply.text).toContain('Your recent payments:')
      expect(reply.text).toMatch(/50 ⭐ Pack S — refunded\n {2}id stx/)
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
      await throughFaultyProxy(async (proxy, client) => {
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
      })
    })

    it('the default timeout leaves room inside Telegram’s deadline', async () => {
      await throughFaultyProxy(async (proxy, client) => {
        await startBot({ client })
        const invoice = await invoiceFor(ALICE, '/buy pack_s')
        proxy.set('hang')
        const started = Date.now()
        const paid = await stack.sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
        expect(paid.status).toBe('rejected')
        expect(Date.now() - started).toBeLessThan(6000)
      })
    })
  })

  describe('recording payments when e-Stars fails', () => {
    it('retries a transient failure and credits exactly once', async () => {
      await throughFaultyProxy(async (proxy, client) => {
        const { logger } = await startBot({ client })
        const before = (await stack.client.credits.balance.query({ telegramUserId: ALICE }))
          .available
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
        const after = (await stack.client.credits.balance.query({ telegramUserId: ALICE }))
          .available
        expect(after - before).toBe(500)
      })
    })

    it('never loses a payment: when recording keeps failing it logs loudly and reassures the user', async () => {
      await throughFaultyProxy(async (proxy, client) => {
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
      })
    })
  })

  describe('ctx.billing', () => {
    it('upserts the customer once per process, not once per update', async () => {
      await throughFaultyProxy(async (proxy, client) => {
        await startBot({ client })
        await say(ALICE, '/balance', 'available')
        await say(ALICE, '/balance', 'available')
        await say(ALICE, '/balance', 'available')
        expect(proxy.calls.filter((c) => c === 'customers.upsert')).toHaveLength(1)
        expect(proxy.calls.filter((c) => c === 'credits.balance')).toHaveLength(3)
      })
    })

    it('consume charges once per update, even when Telegram delivers it twice', async () => {
      await startBot()
      await fund(BOB, 100)
      stack.sandbox.duplicateNextDelivery(1)
      const reply = await say(BOB, '/use 30', 'used')
      expect(reply.text).toBe('used 30, left 70')
      await eventually(
        () =>
          stack.sandbox.transcript(BOB).filter((m) => m.text?.startsWith('used 30')).length === 2,
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
}
