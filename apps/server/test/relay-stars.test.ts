import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createEStarsClient } from '@e-stars/api/client'
import {
  createApiKey,
  createProduct,
  createSecrets,
  getBalance,
  getPayment,
  listProjects,
  listSubscriptions,
  setBotToken,
  setRelaySettings,
  subscriptionHistory,
} from '@e-stars/billing'
import { type Database, rows } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { createBotApi } from '@e-stars/telegram'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { targetRefusal } from '../src/outbound.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const silent = { info() {}, warn() {}, error() {} }
const SECRET_KEY = randomBytes(32).toString('base64')
const secrets = createSecrets(SECRET_KEY)
const ALICE = 2_000_001
const DAY = 86_400_000

async function waitUntil<T>(probe: () => Promise<T | undefined> | T | undefined, what: string) {
  const until = Date.now() + 15_000
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

let database: Database
let sandbox: Sandbox
let server: RunningServer
let projectId: string
let apiKey: string
let webhookSecret: string
const forwarded: unknown[] = []
const hook: Server = createServer((req, res) => {
  let body = ''
  req.on('data', (c) => {
    body += c
  })
  req.on('end', () => {
    forwarded.push(JSON.parse(body))
    res.writeHead(200).end()
  })
})

beforeAll(async () => {
  database = await createTestDatabase()
  sandbox = await createSandbox({ users: [{ id: ALICE, firstName: 'Alice' }] })
  server = await startServer(
    parseEnv({
      PORT: '0',
      SECRET_KEY,
      TELEGRAM_API_ROOT: sandbox.apiRoot,
      RECONCILE_INTERVAL_SECONDS: '0',
      RELAY_FORWARD_INTERVAL_MS: '50',
      ALLOW_PRIVATE_TARGETS: 'on',
    }),
    silent,
    { database: { ...database, close: async () => {} } },
  )
  const [project] = await listProjects(database.db)
  projectId = project!.id
  await rows(
    database.db,
    sql`update projects set subscription_grace_days = 2 where id = ${projectId}`,
  )
  apiKey = (await createApiKey(database.db, { projectId, name: 'bot' })).key
  await setBotToken(database.db, { projectId, botToken: sandbox.bot().token, secrets })
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
  const settings = await setRelaySettings(database.db, {
    projectId,
    relayTarget: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
    targetRule: (url) => targetRefusal(url, { allowPrivate: true }),
  })
  webhookSecret = settings.webhookSecret
  await createBotApi({ token: sandbox.bot().token, apiRoot: sandbox.apiRoot }).setWebhook({
    url: `${server.url}/telegram/${projectId}`,
    secret_token: webhookSecret,
    allowed_updates: ['message', 'pre_checkout_query', 'subscription', 'purchased_paid_media'],
  })
})
afterAll(async () => {
  await server?.close()
  hook.closeAllConnections()
  await new Promise((r) => hook.close(r))
  await sandbox?.close()
  await database?.close()
})

const renewalState = async () => {
  const [s] = await listSubscriptions(database.db, { projectId, telegramUserId: ALICE })
  return s!
}

describe('Bot API 10.2/10.3 Stars through the relay, end to end', () => {
  it('the user cancels, re-enables and fails a renewal in Telegram: each state is recorded at once, with its history', async () => {
    const client = createEStarsClient({ url: server.url, apiKey })
    const invoice = await client.invoices.create.mutate({
      telegramUserId: ALICE,
      productKey: 'plus',
    })
    const paid = await sandbox.payInvoice(ALICE, { invoiceLink: invoice.invoiceLink! })
    if (paid.status !== 'paid') throw new Error(paid.status)
    await waitUntil(
      () =>
        getPayment(database.db, { projectId, telegramPaymentChargeId: paid.chargeId }).catch(
          () => undefined,
        ),
      'the subscription payment',
    )
    const end = new Date(paid.subscriptionExpirationDate! * 1000)

    sandbox.cancelSubscription(paid.chargeId)
    await waitUntil(async () => (await renewalState()).renewalState === 'canceled', 'canceled')
    expect(await renewalState()).toMatchObject({
      status: 'canceled',
      active: true,
      renews: false,
      accessEndsAt: end.toISOString(),
    })

    sandbox.reenableSubscription(paid.chargeId)
    await waitUntil(async () => (await renewalState()).renewalState === 'active', 're-enabled')

    sandbox.failSubscriptionRenewal(paid.chargeId)
    await waitUntil(async () => (await renewalState()).renewalState === 'failed', 'failed')
    // Access runs two grace days past the paid period, then ends.
    expect((await renewalState()).accessEndsAt).toBe(
      new Date(end.getTime() + 2 * DAY).toISOString(),
    )
    const [after] = await listSubscriptions(database.db, {
      projectId,
      telegramUserId: ALICE,
      now: new Date(end.getTime() + 2 * DAY),
    })
    expect(after).toMatchObject({ active: false, status: 'ended' })

    const history = await subscriptionHistory(database.db, {
      projectId,
      subscriptionId: (await renewalState()).id,
    })
    expect(history.map((h) => [h.state, h.source])).toEqual([
      ['canceled', 'telegram'],
      ['active', 'telegram'],
      ['failed', 'telegram'],
    ])
    // The API answers the same history, and each update was forwarded to the bot.
    const subscriptionId = (await renewalState()).id
    expect(await client.payments.subscriptionHistory.query({ subscriptionId })).toHaveLength(3)
    await waitUntil(
      () => forwarded.filter((u) => (u as { subscription?: unknown }).subscription).length === 3,
      'three forwarded subscription updates',
    )
  })

  it('a paid-media purchase delivered twice and found by reconciliation is credited once; the treasury agrees', async () => {
    await createProduct(database.db, {
      projectId,
      key: 'photos',
      kind: 'paid_media',
      title: 'Photo set',
      description: 'Three photos and 100 credits',
      priceStars: 75,
      credits: 100,
      media: [{ type: 'photo', media: 'https://example.com/sandbox-photo.jpg' }],
    })
    const client = createEStarsClient({ url: server.url, apiKey })
    const before = (await getBalance(database.db, { projectId, telegramUserId: ALICE })).available
    sandbox.sendText(ALICE, '/start')
    const offer = await client.payments.sendPaidMedia.mutate({
      telegramUserId: ALICE,
      productKey: 'photos',
    })
    const bought = sandbox.buyPaidMedia(ALICE, offer.messageId!)
    await waitUntil(
      async () =>
        (await getBalance(database.db, { projectId, telegramUserId: ALICE })).available ===
        before + 100,
      'the paid-media credits',
    )
    // Telegram delivers the same purchase again (a webhook retry with a new id).
    const again = await fetch(`${server.url}/telegram/${projectId}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-telegram-bot-api-secret-token': webhookSecret,
      },
      body: JSON.stringify({ update_id: 999_999, purchased_paid_media: bought.update }),
    })
    expect(again.status).toBe(200)
    const run = await client.reconcile.run.mutate()
    if (run.status !== 'succeeded') throw new Error(run.status)
    expect(run.findings.filter((f) => f.kind !== 'commission_booked')).toEqual([])
    expect(
      await getPayment(database.db, { projectId, telegramPaymentChargeId: bought.chargeId }),
    ).toMatchObject({ status: 'paid', transactionType: 'paid_media_payment', productKey: 'photos' })
    expect((await getBalance(database.db, { projectId, telegramUserId: ALICE })).available).toBe(
      before + 100,
    )
    const treasury = await client.treasury.summary.query()
    expect(treasury).toMatchObject({ agrees: true, differenceNanostars: 0, flags: [] })
  })

  it('blocking the customer from the console stops renewal at Telegram after the block; the console reads history and the treasury', async () => {
    const client = createEStarsClient({ url: server.url, apiKey })
    const invoice = await client.invoices.create.mutate({
      telegramUserId: ALICE,
      productKey: 'plus',
    })
    const paid = await sandbox.payInvoice(ALICE, { invoiceLink: invoice.invoiceLink! })
    if (paid.status !== 'paid') throw new Error(paid.status)
    const current = () =>
      waitUntil(async () => {
        const list = await listSubscriptions(database.db, { projectId, telegramUserId: ALICE })
        return list.find((s) => s.firstChargeId === paid.chargeId)
      }, 'the new subscription')
    expect(await current()).toMatchObject({ renews: true })

    const login = await fetch(`${server.url}/trpc/operator.auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(server.demoOperator),
    })
    const { result } = (await login.json()) as { result: { data: { csrfToken: string } } }
    const headers = {
      'content-type': 'application/json',
      cookie: login.headers.get('set-cookie')!.split(';')[0]!,
      'x-csrf-token': result.data.csrfToken,
    }
    const blocked = await fetch(`${server.url}/trpc/operator.customers.setBlocked`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ projectId, telegramUserId: ALICE, blocked: true }),
    })
    expect(blocked.status).toBe(200)
    expect(await current()).toMatchObject({ renewalState: 'canceled', renews: false, active: true })
    // Telegram (the sandbox) was told: the subscription will not renew.
    expect(sandbox.subscription(paid.chargeId)).toMatchObject({ canceled: true })

    const read = async (path: string) => {
      const input = encodeURIComponent(JSON.stringify({ projectId, telegramUserId: ALICE }))
      const response = await fetch(`${server.url}/trpc/${path}?input=${input}`, { headers })
      expect(response.status).toBe(200)
      return ((await response.json()) as { result: { data: unknown } }).result.data
    }
    const subscriptions = (await read('operator.treasury.subscriptions')) as Array<{
      firstChargeId: string
      history: Array<{ state: string; source: string }>
    }>
    expect(subscriptions.find((s) => s.firstChargeId === paid.chargeId)?.history).toEqual([
      expect.objectContaining({ state: 'canceled', source: 'block' }),
    ])
    expect(await read('operator.treasury.summary')).toMatchObject({ agrees: true })
  })

  it('bad input is refused naming the field: a paid-media price over 25,000, no media, a 31-day period, a bad subscription update', async () => {
    const client = createEStarsClient({ url: server.url, apiKey })
    const media = [{ type: 'photo' as const, media: 'https://example.com/p.jpg' }]
    const refusal = (products: unknown[]) =>
      client.products.apply
        .mutate({ products: products as never })
        .then(() => null)
        .catch((e: { data?: { code?: string }; message: string }) => ({
          code: e.data?.code,
          message: e.message,
        }))
    const base = { title: 'Photos', description: 'Photos', key: 'bad_media' }
    expect(
      await refusal([{ ...base, kind: 'paid_media', priceStars: 25_001, media }]),
    ).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('priceStars'),
    })
    expect(await refusal([{ ...base, kind: 'paid_media', priceStars: 10 }])).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('media'),
    })
    expect(
      await refusal([
        {
          ...base,
          key: 'monthly',
          kind: 'subscription',
          priceStars: 10,
          credits: 5,
          periodDays: 31,
        },
      ]),
    ).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('periodDays') })
    // A subscription update with no user: refused by the schema, naming the field.
    const bad = await client.payments.recordSubscriptionUpdate
      .mutate({ subscription: { invoice_payload: 'x', state: 'canceled' } } as never)
      .catch((e: { data?: { code?: string }; message: string }) => e)
    expect(bad).toMatchObject({
      data: { code: 'BAD_REQUEST' },
      message: expect.stringContaining('user'),
    })
    // An unknown state is not refused: stored and flagged.
    expect(
      await client.payments.recordSubscriptionUpdate.mutate({
        subscription: { user: { id: ALICE }, invoice_payload: 'x', state: 'paused' },
      }),
    ).toMatchObject({ status: 'flagged', flag: 'unknown_state' })
  })
})
