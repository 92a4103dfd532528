import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createSandbox, type Sandbox, type Update } from '../src/index.ts'
import { callApi, createShopBot, eventually, PACK, type ShopBot, sleep } from './helpers.ts'

const ALICE = 2_000_001
const BOB = 2_000_002
const SECRET = 'hook-secret_1'

interface Received {
  update: Update
  headers: IncomingHttpHeaders
  status: number
  at: number
}

/** A bare webhook receiver; `respond` picks the HTTP status for each update. */
async function startReceiver(respond: (update: Update, attempt: number) => number = () => 200) {
  const received: Received[] = []
  const attempts = new Map<number, number>()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const update = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Update
      const attempt = (attempts.get(update.update_id) ?? 0) + 1
      attempts.set(update.update_id, attempt)
      const status = respond(update, attempt)
      received.push({ update, headers: req.headers, status, at: Date.now() })
      res.writeHead(status).end()
    })
  })
  const url = await listen(server)
  return { server, url: `${url}/hook`, received }
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const textOf = (r: Received) => r.update.message?.text

describe('webhook delivery', () => {
  let sandbox: Sandbox
  const servers: Server[] = []
  let shop: ShopBot | undefined

  afterEach(async () => {
    await sandbox.close()
    for (const server of servers.splice(0)) server.close()
    shop = undefined
  })

  async function setup() {
    sandbox = await createSandbox({
      users: [
        { id: ALICE, firstName: 'Alice' },
        { id: BOB, firstName: 'Bob' },
      ],
      webhookRetryBaseDelayMs: 20,
      webhookRetryMaxDelayMs: 200,
    })
    return { token: sandbox.bot().token, api: sandbox.apiRoot }
  }

  it('runs a Telegraf webhook bot end to end: start, button, invoice, payment', async () => {
    const { token, api } = await setup()
    shop = createShopBot(token, api)
    const server = createServer(shop.bot.webhookCallback('/hook', { secretToken: SECRET }))
    servers.push(server)
    const url = await listen(server)
    await shop.bot.telegram.setWebhook(`${url}/hook`, { secret_token: SECRET })

    const start = sandbox.sendText(ALICE, '/start')
    const welcome = await sandbox.waitForMessage(ALICE, undefined, 2000, {
      afterMessageId: start.message_id,
    })
    const { callbackQueryId } = sandbox.pressButton(ALICE, welcome.message_id, { data: 'buy:100' })
    // Telegraf answers the callback inside the webhook response body; the sandbox runs it.
    expect(await sandbox.waitForCallbackAnswer(callbackQueryId)).toEqual({ text: 'Invoice sent' })
    const invoice = await sandbox.waitForMessage(ALICE, (m) => m.invoice !== undefined)
    const paid = await sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
    expect(paid.status).toBe('paid')
    await eventually(() => shop?.log.successfulPayments.length === 1)
    expect(shop.log.successfulPayments[0]?.total_amount).toBe(PACK.amount)
    await sandbox.waitForMessage(ALICE, (m) => m.text === 'Thanks! Credits added.')
    expect(sandbox.webhookAttempts().every((a) => a.ok)).toBe(true)
  })

  it('a wrong secret makes Telegraf answer 403, which the sandbox records and retries', async () => {
    const { token, api } = await setup()
    shop = createShopBot(token, api)
    const server = createServer(shop.bot.webhookCallback('/hook', { secretToken: SECRET }))
    servers.push(server)
    const url = await listen(server)
    await shop.bot.telegram.setWebhook(`${url}/hook`, { secret_token: 'not-the-secret' })
    sandbox.sendText(ALICE, '/start')
    await eventually(() => sandbox.webhookAttempts().length >= 2)
    expect(shop.log.starts).toBe(0)
    expect(sandbox.webhookAttempts()[0]).toMatchObject({ ok: false, status: 403 })
    const info = await callApi(api, token, 'getWebhookInfo')
    expect(info.result).toMatchObject({
      url: `${url}/hook`,
      pending_update_count: 1,
      last_error_message: 'Wrong response from the webhook: 403 Forbidden',
      last_error_date: expect.any(Number),
    })
  })

  it('retries a failing update with backoff, blocking only its own chat, with the secret header', async () => {
    const { token, api } = await setup()
    const receiver = await startReceiver((update, attempt) =>
      update.message?.text === 'a1' && attempt <= 2 ? 500 : 200,
    )
    servers.push(receiver.server)
    const set = await callApi(api, token, 'setWebhook', { url: receiver.url, secret_token: SECRET })
    expect(set).toMatchObject({ ok: true, result: true })

    sandbox.sendText(ALICE, 'a1')
    sandbox.sendText(ALICE, 'a2')
    sandbox.sendText(BOB, 'b1')
    await eventually(() => receiver.received.filter((r) => r.status === 200).length === 3)

    expect(receiver.received.map((r) => `${textOf(r)}:${r.status}`)).toEqual([
      'a1:500',
      'b1:200',
      'a1:500',
      'a1:200',
      'a2:200',
    ])
    const a1 = receiver.received.filter((r) => textOf(r) === 'a1').map((r) => r.at)
    const [t0 = 0, t1 = 0, t2 = 0] = a1
    // base 20 ms, doubling: about 20 then 40 ms between tries.
    expect(t1 - t0).toBeGreaterThanOrEqual(15)
    expect(t2 - t1).toBeGreaterThanOrEqual(35)
    for (const r of receiver.received) {
      expect(r.headers['x-telegram-bot-api-secret-token']).toBe(SECRET)
      expect(r.headers['content-type']).toBe('application/json')
    }
    const info = await callApi(api, token, 'getWebhookInfo')
    expect(info.result).toMatchObject({
      pending_update_count: 0,
      last_error_message: 'Wrong response from the webhook: 500 Internal Server Error',
    })
  })

  it('records a network error and keeps the update pending', async () => {
    const { token, api } = await setup()
    const closed = createServer()
    const url = await listen(closed)
    await new Promise((resolve) => closed.close(resolve))
    await callApi(api, token, 'setWebhook', { url })
    sandbox.sendText(ALICE, 'hello')
    await eventually(() => sandbox.webhookAttempts().length >= 1)
    expect(sandbox.webhookAttempts()[0]).toMatchObject({ ok: false, error: 'Connection refused' })
    const info = await callApi(api, token, 'getWebhookInfo')
    expect(info.result).toMatchObject({
      pending_update_count: 1,
      last_error_message: 'Connection refused',
    })
  })

  it('refuses getUpdates while a webhook is set', async () => {
    const { token, api } = await setup()
    await callApi(api, token, 'setWebhook', { url: 'http://127.0.0.1:9/hook' })
    expect(await callApi(api, token, 'getUpdates')).toEqual({
      status: 409,
      ok: false,
      error_code: 409,
      description:
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    })
  })

  it('deleteWebhook keeps pending updates for getUpdates unless drop_pending_updates', async () => {
    const { token, api } = await setup()
    await callApi(api, token, 'setWebhook', { url: 'http://127.0.0.1:9/hook' })
    sandbox.sendText(ALICE, 'one')
    await callApi(api, token, 'deleteWebhook')
    const kept = await callApi(api, token, 'getUpdates')
    expect((kept.result as Update[]).map((u) => u.message?.text)).toEqual(['one'])

    await callApi(api, token, 'setWebhook', { url: 'http://127.0.0.1:9/hook' })
    sandbox.sendText(ALICE, 'two')
    await callApi(api, token, 'deleteWebhook', { drop_pending_updates: true })
    expect(await callApi(api, token, 'getUpdates')).toMatchObject({ ok: true, result: [] })
    const info = await callApi(api, token, 'getWebhookInfo')
    expect(info.result).toEqual({ url: '', has_custom_certificate: false, pending_update_count: 0 })
  })

  it('respects allowed_updates: excluded kinds are not stored at all', async () => {
    const { token, api } = await setup()
    const receiver = await startReceiver()
    servers.push(receiver.server)
    await callApi(api, token, 'setWebhook', {
      url: receiver.url,
      allowed_updates: ['callback_query'],
    })
    sandbox.sendText(ALICE, 'ignored')
    await sleep(50)
    expect(receiver.received).toEqual([])
    const info = await callApi(api, token, 'getWebhookInfo')
    expect(info.result).toMatchObject({
      pending_update_count: 0,
      allowed_updates: ['callback_query'],
    })
    // Omitting allowed_updates keeps the previous setting; [] resets it to all kinds.
    await callApi(api, token, 'setWebhook', { url: receiver.url })
    sandbox.sendText(ALICE, 'still ignored')
    await callApi(api, token, 'setWebhook', { url: receiver.url, allowed_updates: [] })
    sandbox.sendText(ALICE, 'delivered')
    await eventually(() => receiver.received.length === 1)
    expect(receiver.received.map(textOf)).toEqual(['delivered'])
  })

  it('duplicates and drops deliveries on request', async () => {
    const { token, api } = await setup()
    const receiver = await startReceiver()
    servers.push(receiver.server)
    await callApi(api, token, 'setWebhook', { url: receiver.url })
    sandbox.duplicateNextDelivery()
    sandbox.sendText(ALICE, 'twice')
    sandbox.dropNextDelivery()
    sandbox.sendText(ALICE, 'never')
    sandbox.sendText(ALICE, 'once')
    await eventually(() => receiver.received.length === 3)
    await sleep(30)
    expect(receiver.received.map(textOf)).toEqual(['twice', 'twice', 'once'])
    const [first, second] = receiver.received
    expect(first?.update.update_id).toBe(second?.update.update_id)
  })
})
