import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createEStarsClient } from '@e-stars/api/client'
import {
  createApiKey,
  createProject,
  createSecrets,
  getPayment,
  getRelayStatus,
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
import type express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { targetRefusal } from '../src/outbound.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const silent = { info() {}, warn() {}, error() {} }
const SECRET_KEY = randomBytes(32).toString('base64')
const secrets = createSecrets(SECRET_KEY)
const ALICE = 2_000_001
/** The rule the server passes the engine with ALLOW_PRIVATE_TARGETS=on (the hooks are on loopback). */
const loopbackAllowed = (url: URL) => targetRefusal(url, { allowPrivate: true })

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
    // The bot's webhook below listens on loopback.
    ALLOW_PRIVATE_TARGETS: 'on',
    ...extra,
  })

/**
 * Stands in for the demo's loopback-only `/demo/bootstrap` (and counts who reached it, and with
 * which headers): what a forward must never reach, whatever the relay target answers.
 */
const bootstrapCalls: Array<{ method: string; secret: unknown }> = []
function mountBootstrapSpy(app: express.Express) {
  app.all('/demo/bootstrap', (req, res) => {
    bootstrapCalls.push({
      method: req.method,
      secret: req.headers['x-telegram-bot-api-secret-token'],
    })
    res.json({ apiKey: 'not-a-real-key' })
  })
}

beforeAll(async () => {
  database = await createTestDatabase()
  sandbox = await createSandbox({
    users: [{ id: ALICE, firstName: 'Alice' }],
    webhookRetryBaseDelayMs: 20,
    webhookRetryMaxDelayMs: 200,
  })
  // Server A must not close the shared database: the crash test starts a second server on it.
  server = await startServer(envFor(), silent, {
    database: { ...database, close: async () => {} },
    extend: mountBootstrapSpy,
  })
  const [project] = await listProjects(database.db)
  projectId = project!.id
  apiKey = (await createApiKey(database.db, { projectId, name: 'bot' })).key
  await setBotToken(database.db, { projectId, botToken: sandbox.bot().token, secrets })
  const settings = await setRelaySettings(database.db, {
    projectId,
    relayTarget: await hook.start(),
    targetRule: loopbackAllowed,
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
    extend: mountBootstrapSpy,
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

/** One POST to the relay, answered as text (what a caller sees, byte for byte). */
async function postRelay(path: string, body: string, secret?: string) {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(secret === undefined ? {} : { 'x-telegram-bot-api-secret-token': secret }),
    },
    body,
  })
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    text: await response.text(),
  }
}

/** What an error body must never carry: a stack frame, an absolute path, an HTML page. */
function expectNoInternals(text: string) {
  expect(text).not.toMatch(/\bat \S+ \(|node_modules|\/work\/|\/home\/|\/tmp\/|<html|<pre|Error:/i)
}

const REFUSAL = { ok: false, error_code: 403, description: 'Forbidden' }

describe('the relay refuses every unauthenticated caller alike', () => {
  const update = JSON.stringify({ update_id: 66_000_001, message: { text: 'hi' } })

  it('a missing project, a project without a relay, a malformed id and a wrong or missing secret get one identical refusal', async () => {
    const noRelay = await createProject(database.db, { name: 'no relay yet' })
    const answers = [
      await postRelay('/telegram/00000000-0000-4000-8000-000000000000', update, webhookSecret),
      await postRelay(`/telegram/${noRelay.id}`, update, webhookSecret),
      await postRelay(`/telegram/${noRelay.id}`, update),
      await postRelay('/telegram/not-a-project', update, webhookSecret),
      await postRelay(`/telegram/${projectId}`, update, 'wrong-secret-000000'),
      await postRelay(`/telegram/${projectId}`, update),
    ]
    for (const answer of answers) expect(answer).toEqual(answers[0])
    expect(answers[0]!.status).toBe(403)
    expect(JSON.parse(answers[0]!.text)).toEqual(REFUSAL)
    expect(await getRelayUpdate(database.db, projectId, 66_000_001)).toBeNull()
  })

  it('a wrong secret never reaches the JSON parser: malformed and oversized bodies get the same refusal', async () => {
    const malformed = '{"update_id": 1,'
    const oversized = JSON.stringify({ update_id: 1, text: 'x'.repeat(2 * 1024 * 1024) })
    for (const body of [malformed, oversized]) {
      for (const answer of [
        await postRelay(`/telegram/${projectId}`, body, 'wrong-secret-000000'),
        await postRelay(`/telegram/${projectId}`, body),
        await postRelay('/telegram/00000000-0000-4000-8000-000000000000', body, webhookSecret),
      ]) {
        expect(answer.status).toBe(403)
        expect(JSON.parse(answer.text)).toEqual(REFUSAL)
      }
    }
  })

  it('bad, oversized or non-update JSON after authentication answers Telegram-style JSON, never a stack or a path', async () => {
    const path = `/telegram/${projectId}`
    const malformed = await postRelay(path, '{"update_id": 1,', webhookSecret)
    const oversized = await postRelay(
      path,
      JSON.stringify({ update_id: 1, text: 'x'.repeat(2 * 1024 * 1024) }),
      webhookSecret,
    )
    const notAnUpdate = await postRelay(path, '["update_id"]', webhookSecret)
    expect([malformed.status, oversized.status, notAnUpdate.status]).toEqual([400, 413, 400])
    for (const answer of [malformed, oversized, notAnUpdate]) {
      expect(answer.type).toMatch(/^application\/json/)
      expectNoInternals(answer.text)
      const body = JSON.parse(answer.text) as Record<string, unknown>
      expect(body).toMatchObject({ ok: false, error_code: answer.status })
      expect(body.description).toMatch(
        answer.status === 413 ? /^Request Entity Too Large/ : /^Bad Request/,
      )
    }
  })
})

/** A relay target that answers every request the same way and counts them. */
async function fixedAnswer(status: number, headers: Record<string, string> = {}) {
  const requests: Array<{ method: string | undefined; url: string | undefined }> = []
  const listener = createServer((req, res) => {
    requests.push({ method: req.method, url: req.url })
    req.resume()
    req.on('end', () => res.writeHead(status, headers).end('{"method":"sendMessage"}'))
  })
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r))
  return {
    requests,
    url: `http://127.0.0.1:${(listener.address() as AddressInfo).port}/hook`,
    close: () =>
      new Promise<void>((r) => {
        listener.closeAllConnections()
        listener.close(() => r())
      }),
  }
}

/** Another tenant: its own project, its own relay target and secret, one update posted. */
async function tenantForwardsTo(relayTarget: string) {
  const tenant = await createProject(database.db, { name: 'another tenant' })
  const { webhookSecret: secret } = await setRelaySettings(database.db, {
    projectId: tenant.id,
    relayTarget,
    targetRule: loopbackAllowed,
  })
  const posted = await postRelay(
    `/telegram/${tenant.id}`,
    JSON.stringify({ update_id: 55_000_001, message: { text: 'hi' } }),
    secret,
  )
  expect(posted.status).toBe(200)
  return waitUntil(async () => {
    const status = await getRelayStatus(database.db, tenant.id)
    return status.lastError ? status : undefined
  }, 'the forward to fail')
}

describe('the forwarder reaches only what a tenant may reach (blind SSRF)', () => {
  it.each([303, 307])(
    'the attack from the issue: a target answering %i to /demo/bootstrap is not followed, and the secret goes nowhere else',
    async (status) => {
      bootstrapCalls.length = 0
      const redirector = await fixedAnswer(status, { location: `${server.url}/demo/bootstrap` })
      try {
        const relay = await tenantForwardsTo(redirector.url)
        expect(relay.lastError).toBe('the target answered a redirect')
        expect(redirector.requests.length).toBeGreaterThanOrEqual(1)
        expect(redirector.requests.every((r) => r.url === '/hook')).toBe(true)
        // Long enough for a followed redirect to have landed.
        await new Promise((r) => setTimeout(r, 200))
        expect(bootstrapCalls).toEqual([])
      } finally {
        await redirector.close()
      }
    },
  )

  it('even with private targets allowed, a forward never reaches this server itself', async () => {
    bootstrapCalls.length = 0
    const port = new URL(server.url).port
    for (const target of [
      `http://127.0.0.1:${port}/demo/bootstrap`,
      `http://localhost:${port}/demo/bootstrap`,
      `http://[::ffff:127.0.0.1]:${port}/admin/command`,
      `http://2130706433:${port}/demo/bootstrap`,
    ]) {
      const relay = await tenantForwardsTo(target)
      expect(relay.lastError, target).toBe('the target is this e-Stars server')
    }
    expect(bootstrapCalls).toEqual([])
  })

  it('the owner reads coarse words in lastError, never a status or a socket error that maps a network', async () => {
    const closed = await fixedAnswer(200)
    await closed.close()
    const notFound = await fixedAnswer(404)
    const teapot = await fixedAnswer(418)
    const broken = await fixedAnswer(502)
    try {
      expect((await tenantForwardsTo(closed.url)).lastError).toBe(
        'the target refused or could not be reached',
      )
      expect((await tenantForwardsTo(notFound.url)).lastError).toBe('the target answered HTTP 4xx')
      expect((await tenantForwardsTo(teapot.url)).lastError).toBe('the target answered HTTP 4xx')
      expect((await tenantForwardsTo(broken.url)).lastError).toBe('the target answered HTTP 5xx')
    } finally {
      await Promise.all([notFound.close(), teapot.close(), broken.close()])
    }
  })
})
