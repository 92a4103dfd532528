import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createEStarsClient } from '@e-stars/api/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBot } from '../src/bot.ts'
import { createOfflineModel } from '../src/model/offline.ts'
import { ALICE, eventually, memoryLogger, type Stack, startStack, userOf } from './stack.ts'

const SECRET = 'webhook-secret-for-tests'
let stack: Stack
let server: Server

beforeAll(async () => {
  stack = await startStack({
    sandbox: { webhookRetryBaseDelayMs: 20, webhookRetryMaxDelayMs: 200 },
  })
})
afterAll(async () => {
  server?.closeAllConnections()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  await stack?.close()
})

describe('the reference bot in webhook mode', () => {
  it('acknowledges a successful_payment only after e-Stars recorded it (persist before acknowledging)', async () => {
    // Recording a payment takes 300 ms longer than usual.
    const client = createEStarsClient({
      url: stack.server.url,
      apiKey: stack.apiKey,
      fetch: async (input, init) => {
        if (String(input).includes('payments.record')) await new Promise((r) => setTimeout(r, 300))
        return fetch(input, init)
      },
    })
    const { bot } = createBot({
      token: stack.sandbox.bot().token,
      apiRoot: stack.sandbox.apiRoot,
      client,
      model: createOfflineModel(),
      logger: memoryLogger(),
    })
    bot.botInfo = await bot.telegram.getMe()
    server = createServer(bot.webhookCallback('/telegram', { secretToken: SECRET }))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    await bot.telegram.setWebhook(`http://127.0.0.1:${port}/telegram`, { secret_token: SECRET })

    const user = userOf(stack.sandbox, ALICE)
    expect((await user.say('/start')).text).toMatch(/^Welcome, Alice!/)
    const invoice = await user.say('/buy pack_s', (m) => m.invoice !== undefined)
    const paid = await stack.sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
    if (paid.status !== 'paid') throw new Error(`payment ${paid.status}`)
    // Watch every acknowledged update: was the payment in e-Stars at the moment of its 200?
    const attempts = () => stack.sandbox.webhookAttempts()
    const recordedAtAck = new Map<number, boolean>()
    const isRecorded = () =>
      stack.client.payments.get
        .query({ telegramPaymentChargeId: paid.chargeId })
        .then(() => true)
        .catch(() => false)
    await eventually(async () => {
      for (const a of attempts())
        if (a.ok && !recordedAtAck.has(a.updateId))
          recordedAtAck.set(a.updateId, await isRecorded())
      return recordedAtAck.size > 0 && (await isRecorded()) && attempts().every((a) => a.ok)
    })
    await eventually(async () => {
      for (const a of attempts())
        if (a.ok && !recordedAtAck.has(a.updateId))
          recordedAtAck.set(a.updateId, await isRecorded())
      return attempts().length === recordedAtAck.size
    })
    // The successful_payment is the last update; the pre-checkout before it was acked earlier.
    const last = Math.max(...recordedAtAck.keys())
    expect(recordedAtAck.get(last)).toBe(true)
    const thanks = await user.next(
      invoice.message_id,
      (m) => m.text?.startsWith('Payment') ?? false,
    )
    expect(thanks.text).toContain('+500 credits')
    expect(attempts().every((a) => a.ok)).toBe(true)
  })
})
