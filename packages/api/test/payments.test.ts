import { randomUUID } from 'node:crypto'
import {
  createApiKey,
  createProject,
  createSecrets,
  generateSecretKey,
  getTelegramSettings,
  projectBotToken,
  relayProject,
  seedDemoCatalog,
  setBotToken,
} from '@e-stars/billing'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { createBotApi } from '@e-stars/telegram'
import { TRPCError } from '@trpc/server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  appRouter,
  createCallerFactory,
  createInnerContext,
  createPaymentServices,
} from '../src/index.ts'
import { silentLogger, useDatabase } from './fixtures.ts'

const t = useDatabase()
const createCaller = createCallerFactory(appRouter)
const secrets = createSecrets(generateSecretKey())
const ALICE = 2_000_001
let sandbox: Sandbox

async function shop(name: string, options: { botToken?: string; payments?: boolean } = {}) {
  const project = await createProject(t.db, { name })
  await seedDemoCatalog(t.db, project.id)
  if (options.botToken)
    await setBotToken(t.db, { projectId: project.id, botToken: options.botToken, secrets })
  const key = await createApiKey(t.db, { projectId: project.id, name: 'bot' })
  const payments =
    options.payments === false
      ? undefined
      : createPaymentServices({ db: t.db, secrets, telegramApiRoot: sandbox.apiRoot })
  const caller = createCaller(
    createInnerContext({ db: t.db, logger: silentLogger, payments }, { apiKey: key.key }),
  )
  return { projectId: project.id, caller }
}

const codeOf = (error: unknown) => (error instanceof TRPCError ? error.code : String(error))

beforeAll(async () => {
  sandbox = await createSandbox({ users: [{ id: ALICE, firstName: 'Alice' }] })
})
afterAll(() => sandbox?.close())

describe('products, invoices, checkout and payments through the router', () => {
  it('products.list shows this project’s catalog only', async () => {
    const a = await shop('a')
    const products = await a.caller.products.list()
    expect(products.map((p) => p.key)).toEqual([
      'pack_s',
      'pack_m',
      'pack_l',
      'pro_30d',
      'pro_lifetime',
      'plus',
    ])
    expect(products[0]).toMatchObject({ kind: 'pack', priceStars: 50, credits: 500 })
  })

  it('invoices.create returns sendInvoice params Telegram accepts; precheck and record complete the purchase', async () => {
    const { caller } = await shop('b', { botToken: sandbox.bot().token })
    const invoice = await caller.invoices.create({ telegramUserId: ALICE, productKey: 'pack_m' })
    expect(invoice.sendInvoice).toMatchObject({
      chat_id: ALICE,
      currency: 'XTR',
      provider_token: '',
      prices: [{ amount: 100 }],
    })
    expect(Buffer.byteLength(invoice.payload)).toBeLessThanOrEqual(128)
    sandbox.sendText(ALICE, '/buy')
    const api = createBotApi({ token: sandbox.bot().token, apiRoot: sandbox.apiRoot })
    const sent = await api.sendInvoice(invoice.sendInvoice!)
    expect(sent.invoice).toMatchObject({ total_amount: 100, currency: 'XTR' })

    const query = {
      id: 'q1',
      from: { id: ALICE, is_bot: false, first_name: 'Alice' },
      currency: 'XTR',
      total_amount: 100,
      invoice_payload: invoice.payload,
    }
    expect(await caller.checkout.precheck(query)).toEqual({
      ok: true,
      errorMessage: null,
      orderId: invoice.orderId,
    })
    expect(await caller.checkout.precheck({ ...query, total_amount: 99 })).toMatchObject({
      ok: false,
      reason: 'amount',
    })
    const successfulPayment = {
      currency: 'XTR',
      total_amount: 100,
      invoice_payload: invoice.payload,
      telegram_payment_charge_id: `stx-${randomUUID()}`,
      provider_payment_charge_id: '',
    }
    const first = await caller.payments.record({ successfulPayment, from: query.from })
    expect(first).toMatchObject({ duplicate: false, credits: 1200, available: 1200 })
    const again = await caller.payments.record({ successfulPayment, from: query.from })
    expect(again).toMatchObject({ duplicate: true, paymentId: first.paymentId, available: 1200 })
    const list = await caller.payments.list({ telegramUserId: ALICE })
    expect(list.payments).toHaveLength(1)
    expect(await caller.credits.balance({ telegramUserId: ALICE })).toMatchObject({
      available: 1200,
    })
  })

  it('subscription invoices are links made through the project bot; without a bot token that is a clear error', async () => {
    const withBot = await shop('c', { botToken: sandbox.bot().token })
    const invoice = await withBot.caller.invoices.create({
      telegramUserId: ALICE,
      productKey: 'plus',
    })
    expect(invoice).toMatchObject({ kind: 'subscription', sendInvoice: null })
    expect(invoice.invoiceLink).toMatch(/^https:\/\/t\.me\/\$/)
    const withoutBot = await shop('d')
    const error = await withoutBot.caller.invoices
      .create({ telegramUserId: ALICE, productKey: 'plus' })
      .catch((e: unknown) => e)
    expect(codeOf(error)).toBe('PRECONDITION_FAILED')
    expect((error as TRPCError).cause).toMatchObject({ code: 'BOT_TOKEN_MISSING' })
  })

  it('refuses bad input with BAD_REQUEST and unknown products with NOT_FOUND', async () => {
    const { caller } = await shop('e')
    const bad = await caller.payments
      .record({
        successfulPayment: {
          currency: 'XTR',
          total_amount: -5,
          invoice_payload: 'x',
          telegram_payment_charge_id: '',
        },
        from: { id: ALICE },
      })
      .catch((e: unknown) => e)
    expect(codeOf(bad)).toBe('BAD_REQUEST')
    const missing = await caller.invoices
      .create({ telegramUserId: ALICE, productKey: 'nope' })
      .catch((e: unknown) => e)
    expect(codeOf(missing)).toBe('NOT_FOUND')
  })

  it('an archived product cannot be invoiced', async () => {
    const { caller, projectId } = await shop('f')
    const { archiveProduct } = await import('@e-stars/billing')
    await archiveProduct(t.db, { projectId, key: 'pack_s' })
    const error = await caller.invoices
      .create({ telegramUserId: ALICE, productKey: 'pack_s' })
      .catch((e: unknown) => e)
    expect(codeOf(error)).toBe('PRECONDITION_FAILED')
    expect((error as TRPCError).cause).toMatchObject({ code: 'PRODUCT_UNAVAILABLE' })
  })

  it('the bot token is stored encrypted and never comes back out', async () => {
    const token = '123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ'
    const { projectId } = await shop('secret', { botToken: token })
    const settings = await getTelegramSettings(t.db, projectId)
    expect(settings).toMatchObject({ botTokenSet: true })
    expect(JSON.stringify(settings)).not.toContain('AAbbCC')
    const row = await relayProject(t.db, projectId)
    expect(row!.botTokenEncrypted).toMatch(/^v1\./)
    expect(row!.botTokenEncrypted).not.toContain('AAbbCC')
    expect(await projectBotToken(t.db, secrets, projectId)).toBe(token)
    await expect(
      setBotToken(t.db, { projectId, botToken: 'not a token', secrets }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'botToken' })
  })

  it('payment procedures refuse when the server has no SECRET_KEY configured', async () => {
    const { caller } = await shop('g', { payments: false })
    const error = await caller.invoices
      .create({ telegramUserId: ALICE, productKey: 'pack_s' })
      .catch((e: unknown) => e)
    expect(codeOf(error)).toBe('PRECONDITION_FAILED')
  })

  it('operator-style refund through the bot key calls Telegram and revokes; reconcile.run then finds nothing to repair', async () => {
    const { caller } = await shop('h', { botToken: sandbox.bot().token })
    const invoice = await caller.invoices.create({ telegramUserId: ALICE, productKey: 'pack_s' })
    sandbox.sendText(ALICE, '/buy')
    const api = createBotApi({ token: sandbox.bot().token, apiRoot: sandbox.apiRoot })
    const sent = await api.sendInvoice(invoice.sendInvoice!)
    const paying = sandbox.payInvoice(ALICE, { messageId: sent.message_id })
    // Answer the pre-checkout as a bot would, through the router.
    let answered = false
    for (let i = 0; i < 100 && !answered; i++) {
      const updates = (await api.call('getUpdates', { timeout: 0 })) as Array<{
        update_id: number
        pre_checkout_query?: {
          id: string
          from: { id: number }
          currency: string
          total_amount: number
          invoice_payload: string
        }
      }>
      for (const update of updates) {
        await api.call('getUpdates', { offset: update.update_id + 1, timeout: 0 })
        if (!update.pre_checkout_query) continue
        const verdict = await caller.checkout.precheck(update.pre_checkout_query)
        await api.answerPreCheckoutQuery({
          pre_checkout_query_id: update.pre_checkout_query.id,
          ok: verdict.ok,
        })
        answered = true
      }
      if (!answered) await new Promise((r) => setTimeout(r, 20))
    }
    const paid = await paying
    if (paid.status !== 'paid') throw new Error(paid.status)
    await caller.payments.record({
      successfulPayment: paid.message.successful_payment!,
      from: { id: ALICE, first_name: 'Alice' },
    })
    const refund = await caller.payments.refund({
      telegramPaymentChargeId: paid.chargeId,
      reason: 'asked for it',
    })
    expect(refund).toMatchObject({ voided: 500, alreadyRefunded: false })
    expect(refund.refundedBy).toMatch(/^api-key:/)
    const run = await caller.reconcile.run()
    expect(run).toMatchObject({ status: 'succeeded' })
    const runs = await caller.reconcile.runs({})
    expect(runs[0]).toMatchObject({ status: 'succeeded', trigger: 'manual' })
    // Other projects share this sandbox bot's ledger, so this one may see foreign charges;
    // its own payment needs no repair.
    const findings = await caller.reconcile.findings({})
    expect(findings.filter((f) => f.telegramPaymentChargeId === paid.chargeId)).toEqual([])
  })
})
