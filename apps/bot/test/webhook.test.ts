import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createEStarsClient } from '@e-stars/api/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyCatalog } from '../src/apply-catalog.ts'
import { createBot } from '../src/bot.ts'
import { createOfflineModel } from '../src/model/offline.ts'
import { FIRST_PACK, WORDS } from './catalog-words.ts'
import { ALICE, BOB, eventually, memoryLogger, type Stack, startStack, userOf } from './stack.ts'

const SECRET = 'webhook-secret-for-tests'
let stack: Stack
let server: Server
let second: Server | undefined

beforeAll(async () => {
  stack = await startStack({
    sandbox: { webhookRetryBaseDelayMs: 20, webhookRetryMaxDelayMs: 200 },
  })
  await applyCatalog(stack.client, memoryLogger())
})
afterAll(async () => {
  second?.closeAllConnections()
  second?.close()
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

    // What e-Stars knew at the moment each update was acknowledged: the bot's response is held
    // until the question is answered, so "recorded at its 200" is read before the 200, not after.
    const atAck = new Map<number, { payment: boolean; recorded: boolean }>()
    const isRecorded = (chargeId: string) =>
      stack.client.payments.get.query({ telegramPaymentChargeId: chargeId }).then(
        () => true,
        (error: unknown) => {
          // Only "no such payment" means not recorded; anything else is the test's failure.
          if ((error as { data?: { code?: string } }).data?.code === 'NOT_FOUND') return false
          throw error
        },
      )
    const handle = bot.webhookCallback('/telegram', { secretToken: SECRET })
    const observeErrors: unknown[] = []
    server = createServer(async (req, res) => {
      let body = ''
      for await (const chunk of req) body += String(chunk)
      const update = JSON.parse(body) as {
        update_id: number
        message?: { successful_payment?: { telegram_payment_charge_id: string } }
      }
      Object.assign(req, { body: update })
      const end = res.end.bind(res) as (...args: unknown[]) => void
      let ended = false
      res.end = ((...args: unknown[]) => {
        if (ended) return res
        ended = true
        const charge = update.message?.successful_payment?.telegram_payment_charge_id
        void (charge ? isRecorded(charge) : Promise.resolve(false))
          .then(
            (recorded) => atAck.set(update.update_id, { payment: charge !== undefined, recorded }),
            (error: unknown) => observeErrors.push(error),
          )
          .finally(() => end(...args))
        return res
      }) as typeof res.end
      await handle(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    await bot.telegram.setWebhook(`http://127.0.0.1:${port}/telegram`, { secret_token: SECRET })

    const user = userOf(stack.sandbox, ALICE)
    const welcome = await user.say('/start')
    expect(welcome.text?.startsWith(WORDS.start.welcome('Alice'))).toBe(true)
    const invoice = await user.say(`/buy ${FIRST_PACK.key}`, (m) => m.invoice !== undefined)
    const paid = await stack.sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
    if (paid.status !== 'paid') throw new Error(`payment ${paid.status}`)

    // Wait for Telegram (the sandbox) to have received the 200 for the successful_payment
    // update itself, not merely for e-Stars to have the payment: recording comes first by
    // design, so the acknowledgement may still be on its way when the payment is visible.
    const attempts = () => stack.sandbox.webhookAttempts()
    const paymentUpdate = () => [...atAck].find(([, seen]) => seen.payment)?.[0]
    await eventually(() => {
      if (observeErrors.length > 0) throw observeErrors[0]
      const id = paymentUpdate()
      return id !== undefined && attempts().some((a) => a.updateId === id && a.ok)
    })
    expect(atAck.get(paymentUpdate() ?? -1)).toEqual({ payment: true, recorded: true })
    expect(await isRecorded(paid.chargeId)).toBe(true)
    const thanks = await user.next(
      invoice.message_id,
      (m) => m.text?.startsWith('Payment') ?? false,
    )
    expect(thanks.text).toContain(WORDS.payments.credits(FIRST_PACK.credits))
    expect(attempts().every((a) => a.ok)).toBe(true)
  })

  it('answers Telegram’s request at once and runs the model in the chat’s queue: a hung model stalls nobody', async () => {
    let open = () => {}
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const offline = createOfflineModel()
    const { bot } = createBot({
      token: stack.sandbox.bot().token,
      apiRoot: stack.sandbox.apiRoot,
      client: stack.client,
      model: {
        ...offline,
        complete: async (prompt, options) => {
          await gate
          return offline.complete(prompt, options)
        },
      },
      logger: memoryLogger(),
    })
    bot.botInfo = await bot.telegram.getMe()
    const handle = bot.webhookCallback('/telegram', { secretToken: SECRET })
    second = createServer(async (req, res) => {
      let body = ''
      for await (const chunk of req) body += String(chunk)
      Object.assign(req, { body: JSON.parse(body) })
      await handle(req, res)
    })
    await new Promise<void>((resolve) => second?.listen(0, '127.0.0.1', resolve))
    const { port } = second.address() as AddressInfo
    await bot.telegram.setWebhook(`http://127.0.0.1:${port}/telegram`, { secret_token: SECRET })

    const question = stack.sandbox.sendText(ALICE, 'A question for a hung model')
    await eventually(() => stack.sandbox.webhookAttempts().some((a) => a.chatId === ALICE && a.ok))
    const bob = userOf(stack.sandbox, BOB)
    // The model hangs until `open()`: Bob answered while Alice's question still waits is the
    // proof that nobody stalls (no wall-clock bound, which only measures how busy the machine is).
    const welcome = await bob.say('/start', undefined, 5000)
    expect(userOf(stack.sandbox, ALICE).since(question.message_id)).toEqual([])
    expect(welcome.text?.startsWith(WORDS.start.welcome('Bob'))).toBe(true)
    open()
    const answer = await userOf(stack.sandbox, ALICE).next(question.message_id, (m) =>
      /— [\d,]+ tokens · /.test(m.text ?? ''),
    )
    expect(answer.text).toMatch(/^\(offline model\)/)
    await bot.telegram.deleteWebhook()
  })
})
