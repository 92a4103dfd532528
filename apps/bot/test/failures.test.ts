import { randomUUID } from 'node:crypto'
import { createEStarsClient } from '@e-stars/api/client'
import { listLedger } from '@e-stars/billing'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { applyCatalog } from '../src/apply-catalog.ts'
import { createBot } from '../src/bot.ts'
import type { ChatModel } from '../src/model/types.ts'
import { FIRST_PACK, WORDS } from './catalog-words.ts'
import { ALICE, BOB, memoryLogger, type Stack, startStack, userOf } from './stack.ts'

let stack: Stack
let stop: (() => void) | null = null
beforeAll(async () => {
  stack = await startStack()
  await applyCatalog(stack.client, memoryLogger())
})
afterAll(() => stack?.close())
afterEach(() => {
  stop?.()
  stop = null
})

const brokenModel: ChatModel = {
  name: 'broken',
  maxTokens: 100,
  estimate: () => 200,
  complete: () => Promise.reject(new Error('upstream 503')),
}

/** The reference bot with a client whose network can be cut (`state.down = true`). */
async function launch(model: ChatModel) {
  const state = { down: false }
  const logger = memoryLogger()
  const client = createEStarsClient({
    url: stack.server.url,
    apiKey: stack.apiKey,
    fetch: (input, init) =>
      state.down ? Promise.reject(new TypeError('fetch failed')) : fetch(input, init),
  })
  const { bot } = createBot({
    token: stack.sandbox.bot().token,
    apiRoot: stack.sandbox.apiRoot,
    client,
    model,
    logger,
    precheckTimeoutMs: 1000,
    recordRetry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
  })
  await new Promise<void>((resolve, reject) => {
    bot.launch(() => resolve()).catch(reject)
  })
  stop = () => bot.stop('test end')
  return { state, logger }
}

const balanceOf = (telegramUserId: number) => stack.client.credits.balance.query({ telegramUserId })

describe('the reference bot when things fail', () => {
  it('the model fails: the reservation is released, nothing is charged, the user is told', async () => {
    const { logger } = await launch(brokenModel)
    await stack.client.credits.grant.mutate({
      telegramUserId: ALICE,
      amount: 1000,
      reason: 'test funds',
      source: 'promo',
      idempotencyKey: randomUUID(),
    })
    // Use up the free allowance so the reservation holds credits.
    await stack.client.usage.consumeFeature.mutate({
      telegramUserId: ALICE,
      feature: 'ai.tokens',
      quantity: 5000,
      idempotencyKey: randomUUID(),
    })
    const before = await balanceOf(ALICE)
    const reply = await userOf(stack.sandbox, ALICE).say('Why is the sky blue?')
    expect(reply.text).toBe(WORDS.ask.modelDown)
    expect(await balanceOf(ALICE)).toMatchObject({ available: before.available, held: 0 })
    const { entries } = await listLedger(stack.db, {
      projectId: stack.projectId,
      telegramUserId: ALICE,
      limit: 2,
    })
    expect(entries.map((e) => [e.kind, e.heldChange])).toEqual([
      ['release', -2],
      ['hold', 2],
    ])
    expect(logger.lines.some((l) => l.msg?.includes('the model failed'))).toBe(true)
  })

  it('e-Stars unreachable: bot.catch logs the update id and the user gets an apology', async () => {
    const { state, logger } = await launch(brokenModel)
    state.down = true
    const sent = stack.sandbox.sendText(BOB, '/balance')
    const reply = await stack.sandbox.waitForMessage(BOB, undefined, 5000, {
      afterMessageId: sent.message_id,
    })
    expect(reply.text).toBe(WORDS.errors.apology)
    const logged = logger.lines.find((l) => l.msg === 'handling an update failed')
    expect(logged?.level).toBe('error')
    expect(logged?.obj).toMatchObject({ telegramUserId: BOB, updateId: expect.any(Number) })
  })

  it('e-Stars goes down between invoice and payment: the checkout is refused at once, not left spinning', async () => {
    const { state } = await launch(brokenModel)
    const user = userOf(stack.sandbox, BOB)
    const invoice = await user.say(`/buy ${FIRST_PACK.key}`, (m) => m.invoice !== undefined)
    state.down = true
    const started = Date.now()
    const paid = await stack.sandbox.payInvoice(BOB, { messageId: invoice.message_id })
    expect(paid).toEqual({
      status: 'rejected',
      errorMessage:
        'Payments are briefly unavailable. Nothing was charged — please try again in a minute.',
    })
    expect(Date.now() - started).toBeLessThan(3000)
    state.down = false
    const retried = await stack.sandbox.payInvoice(BOB, { messageId: invoice.message_id })
    expect(retried.status).toBe('paid')
  })
})
