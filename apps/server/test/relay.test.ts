import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createEStarsClient } from '@e-stars/api/client'
import {
  createApiKey,
  createSecrets,
  getPayment,
  getRelayUpdate,
  listProjects,
  setBotToken,
  setRelaySettings,
} from '@e-stars/billing'
import { type Database, rows } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { createBotApi } from '@e-stars/telegram'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const silent = { info() {}, warn() {}, error() {} }
const SECRET_KEY = randomBytes(32).toString('base64')
const secrets = createSecrets(SECRET_KEY)
const ALICE = 2_000_001

/** The bot's own webhook behind the relay: records what it receives; can be told to hang. */
function botWebhook() {
  const received: Array<{
    update: { update_id: number } & Record<string, unknown>
    secret: unknown
  }> = []
  let hangNext = 0
  const hanging: IncomingMessage[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => {
      body += chunk
    })
    req.on('end', () => {
      received.push({
        update: JSON.parse(body),
        secret: req.headers['x-telegram-bot-api-secret-token'],
      })
      if (hangNext > 0) {
        hangNext--
        hanging.push(req)
        return
      }
      res.writeHead(200).end()
    })
  })
  return {
    received,
    hang(count = 1) {
      hangNext = count
    },
    async start() {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

async function waitUntil<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  ms = 5000,
) {
  const until = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

let database: Database
let sandbox: Sandbox
let server: RunningServer
let projectId: string
let webhookSecret: string
let apiKey: string
const hook = botWebhook()
const envFor = (extra: Record<string, string> = {}) =>
  parseEnv({
    PORT: '0',
    SECRET_KEY,
    TELEGRAM_API_ROOT: sandbox.apiRoot,
    RECONCILE_INTERVAL_SECONDS: '0',
    RELAY_FORWARD_INTERVAL_MS: '50',
    RELAY_LEASE_MS: '300',
    ...extra,
  })

beforeAll(async () => {
  database = await createTestDatabase()
  sandbox = await createSandbox({
    users: [{ id: ALICE, firstName: 'Alice' }],
    webhookRetryBaseDelayMs: 20,
    webhookRetryMaxDelayMs: 200,
  })
  // Server A must not close the shared database: the crash test starts a second server on it.
  server = await startServer(envFor(), silent, { database: { ...database, close: async () => {} } })
  const [project] = await listProjects(database.db)
  projectId = project!.id
  apiKey = (await createApiKey(database.db, { projectId, name: 'bot' })).key
  await setBotToken(database.db, { projectId, botToken: sandbox.bot().token, secrets })
  const settings = await setRelaySettings(database.db, {
    projectId,
    relayTarget: await hook.start(),
  })
  webhookSecret = settings.webhookSecret
  await pointTelegramAtServer()
})

/** Telegram (the sandbox) delivers to this server's relay. */
const pointTelegramAtServer = () =>
  createBotApi({ token: sandbox.bot().token, apiRoot: sandbox.apiRoot }).setWebhook({
    url: `${server.url}/telegram/${projectId}`,
    secret_token: webhookSecret,
    allowed_updates: ['message', 'pre_checkout_query', 'callback_query'],
  })

/** A new server process on the same database (the old one is gone: closed or crashed). */
async function startAgain(extra: Record<string, string> = {}) {
  server = await startServer(envFor(extra), silent, {
    database: { ...database, close: async () => {} },
  })
  await pointTelegramAtServer()
}
afterAll(async () => {
  await server?.close()
  await hook.close()
  await sandbox?.close()
  await database?.close()
})

async function buyThroughTelegram(productKey: string) {
  const client = createEStarsClient({ url: server.url, apiKey })
  const invoice = await client.invoices.create.mutate({ telegramUserId: ALICE, productKey })
  const api = createBotApi({ token: sandbox.bot().token, apiRoot: sandbox.apiRoot })
  sandbox.sendText(ALICE, '/buy')
  const message = await api.sendInvoice(invoice.sendInvoice!)
  return { invoice, paid: await sandbox.payInvoice(ALICE, { messageId: message.message_id }) }
}

describe('the webhook relay (POST /telegram/<project>)', () => {
  it('answers pre-checkout itself, commits the payment before the 200 and forwards the update to the bot', async () => {
    const { paid } = await buyThroughTelegram('pack_s')
    expect(paid.status).toBe('paid')
    if (paid.status !== 'paid') return
    const payment = await waitUntil(
      () =>
        getPayment(database.db, { projectId, telegramPaymentChargeId: paid.chargeId }).catch(
          () => undefined,
        ),
      'the payment',
    )
    expect(payment).toMatchObject({ status: 'paid', recordedVia: 'relay', productKey: 'pack_s' })
    const forwarded = await waitUntil(
      () =>
        hook.received.find(
          (r) => (r.update.message as { successful_payment?: unknown })?.successful_payment,
        ),
      'the forwarded payment update',
    )
    expect(forwarded.secret).toBe(webhookSecret)
    // The relay answered the pre-checkout; forwarding it would only make the bot's answer fail.
    expect(hook.received.some((r) => r.update.pre_checkout_query)).toBe(false)
    const client = createEStarsClient({ url: server.url, apiKey })
    expect(await client.credits.balance.query({ telegramUserId: ALICE })).toMatchObject({
      available: 500,
    })
  })

  it('a refusal at pre-checkout reaches the user as a plain message', async () => {
    const client = createEStarsClient({ url: server.url, apiKey })
    const invoice = await client.invoices.create.mutate({
      telegramUserId: ALICE,
      productKey: 'pack_m',
    })
    const { archiveProduct } = await import('@e-stars/billing')
    await archiveProduct(database.db, { projectId, key: 'pack_m' })
    const api = createBotApi({ token: sandbox.bot().token, apiRoot: sandbox.apiRoot })
    const message = await api.sendInvoice(invoice.sendInvoice!)
    const paid = await sandbox.payInvoice(ALICE, { messageId: message.message_id })
    expect(paid).toEqual({
      status: 'rejected',
      errorMessage: 'Sorry, this item is no longer available.',
    })
    await archiveProduct(database.db, { projectId, key: 'pack_m', archived: false })
  })

  it('wrong or missing secret → 403 and nothing stored', async () => {
    const update = {
      update_id: 77_000_001,
      message: {
        message_id: 1,
        date: 1,
        chat: { id: ALICE, type: 'private' },
        from: { id: ALICE, is_bot: false, first_name: 'Mallory' },
        successful_payment: {
          currency: 'XTR',
          total_amount: 50,
          invoice_payload: 'x',
          telegram_payment_charge_id: 'stx-forged',
          provider_payment_charge_id: '',
        },
      },
    }
    for (const secret of ['wrong', `${webhookSecret}x`, webhookSecret.slice(0, -1), undefined]) {
      const response = await fetch(`${server.url}/telegram/${projectId}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(secret === undefined ? {} : { 'x-telegram-bot-api-secret-token': secret }),
        },
        body: JSON.stringify(update),
      })
      expect(response.status).toBe(403)
    }
    expect(await getRelayUpdate(database.db, projectId, 77_000_001)).toBeNull()
    await expect(
      getPayment(database.db, { projectId, telegramPaymentChargeId: 'stx-forged' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })

    const unknown = await fetch(`${server.url}/telegram/00000000-0000-4000-8000-000000000000`, {
      method: 'POST',
      headers: { 'x-telegram-bot-api-secret-token': webhookSecret },
    })
    expect(unknown.status).toBe(404)
  })

  it('the same payment delivered many times — relay duplicates, the API and reconciliation — is one payment, one grant', async () => {
    sandbox.duplicateNextDelivery(3)
    const { paid } = await buyThroughTelegram('pack_l')
    if (paid.status !== 'paid') throw new Error(paid.status)
    await waitUntil(
      () =>
        getPayment(database.db, { projectId, telegramPaymentChargeId: paid.chargeId }).catch(
          () => undefined,
        ),
      'the payment',
    )
    const update = {
      update_id: 88_000_001,
      message: {
        message_id: 99,
        date: 1,
        chat: { id: ALICE, type: 'private' },
        from: { id: ALICE, is_bot: false, first_name: 'Alice' },
        successful_payment: paid.message.successful_payment,
      },
    }
    const post = (id: number) =>
      fetch(`${server.url}/telegram/${projectId}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-telegram-bot-api-secret-token': webhookSecret,
        },
        body: JSON.stringify({ ...update, update_id: id }),
      })
    const client = createEStarsClient({ url: server.url, apiKey })
    const record = () =>
      client.payments.record.mutate({
        successfulPayment: paid.message.successful_payment!,
        from: { id: ALICE, first_name: 'Alice' },
      })
    const responses = await Promise.all([
      post(88_000_001),
      post(88_000_001),
      post(88_000_002),
      record(),
      record(),
    ])
    expect(responses.slice(0, 3).map((r) => (r as Response).status)).toEqual([200, 200, 200])
    await record()
    const run = await client.reconcile.run.mutate()
    expect(run.status).toBe('succeeded')
    const [grants] = await rows<{ n: string; credits: string }>(
      database.db,
      sql`select count(*) n, sum(g.amount) credits from grants g join payments p on p.project_id = g.project_id and p.id = g.payment_id
          where p.telegram_payment_charge_id = ${paid.chargeId}`,
    )
    expect({ lots: Number(grants!.n), credits: Number(grants!.credits) }).toEqual({
      lots: 1,
      credits: 3500,
    })
    const [payments] = await rows<{ n: string }>(
      database.db,
      sql`select count(*) n from payments where telegram_payment_charge_id = ${paid.chargeId}`,
    )
    expect(Number(payments!.n)).toBe(1)
  })

  it('a payment update survives a crash between commit and forward: it is forwarded after restart', async () => {
    hook.hang(1)
    const client = createEStarsClient({ url: server.url, apiKey })
    const invoice = await client.invoices.create.mutate({
      telegramUserId: ALICE,
      productKey: 'pack_s',
    })
    const chargeId = `stx-crash-${randomBytes(4).toString('hex')}`
    const updateId = 99_000_001
    const response = await fetch(`${server.url}/telegram/${projectId}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-telegram-bot-api-secret-token': webhookSecret,
      },
      body: JSON.stringify({
        update_id: updateId,
        message: {
          message_id: 5,
          date: 1,
          chat: { id: ALICE, type: 'private' },
          from: { id: ALICE, is_bot: false, first_name: 'Alice' },
          successful_payment: {
            currency: 'XTR',
            total_amount: 50,
            invoice_payload: invoice.payload,
            telegram_payment_charge_id: chargeId,
            provider_payment_charge_id: '',
          },
        },
      }),
    })
    expect(response.status).toBe(200)
    // Committed before the 200.
    expect(
      await getPayment(database.db, { projectId, telegramPaymentChargeId: chargeId }),
    ).toMatchObject({ status: 'paid' })
    // The forward is in flight (the bot hangs) when the server goes down.
    await waitUntil(
      () => hook.received.find((r) => r.update.update_id === updateId),
      'the first forward attempt',
    )
    await server.close()
    expect((await getRelayUpdate(database.db, projectId, updateId))?.forwardedAt).toBeNull()

    await startAgain()
    const row = await waitUntil(async () => {
      const r = await getRelayUpdate(database.db, projectId, updateId)
      return r?.forwardedAt ? r : undefined
    }, 'the forward after restart')
    expect(row.attempts).toBeGreaterThanOrEqual(2)
    expect(hook.received.filter((r) => r.update.update_id === updateId)).toHaveLength(2)
    // Delivered twice to the bot, recorded and granted once.
    const [lots] = await rows<{ n: string }>(
      database.db,
      sql`select count(*) n from grants g join payments p on p.project_id = g.project_id and p.id = g.payment_id
          where p.telegram_payment_charge_id = ${chargeId}`,
    )
    expect(Number(lots!.n)).toBe(1)
  })

  it('the reconcile job runs on its interval and applies a silent chargeback', async () => {
    const { paid } = await buyThroughTelegram('pack_s')
    if (paid.status !== 'paid') throw new Error(paid.status)
    await waitUntil(
      () =>
        getPayment(database.db, { projectId, telegramPaymentChargeId: paid.chargeId }).catch(
          () => undefined,
        ),
      'the payment',
    )
    await server.close()
    await startAgain({ RECONCILE_INTERVAL_SECONDS: '1' })
    sandbox.chargeback(paid.chargeId)
    const refunded = await waitUntil(
      async () => {
        const p = await getPayment(database.db, {
          projectId,
          telegramPaymentChargeId: paid.chargeId,
        })
        return p.status === 'refunded' ? p : undefined
      },
      'the chargeback to be applied',
      5000,
    )
    expect(refunded).toMatchObject({ refundedBy: 'reconciliation' })
  })
})
