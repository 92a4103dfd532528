import { randomUUID } from 'node:crypto'
import { createEStarsClient } from '@e-stars/api/client'
import { listLedger, updateProjectSettings } from '@e-stars/billing'
import type { Message } from '@e-stars/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyCatalog } from '../src/apply-catalog.ts'
import { createBot, type ReferenceBot } from '../src/bot.ts'
import { createOpenAiModel } from '../src/model/openai.ts'
import type { ChatModel } from '../src/model/types.ts'
import { WORDS } from './catalog-words.ts'
import { completion, startModelStub } from './model-stub.ts'
import { memoryLogger, type Stack, startStack, userOf } from './stack.ts'

/**
 * Issue 19, 2, under each overage policy: the model reports far more tokens than the hold paid
 * for (6,050), and the shortfall is a ledger entry, in the footer and in the log, never dropped.
 */
let stack: Stack
let reference: ReferenceBot
let stub: Awaited<ReturnType<typeof startModelStub>>
let model: ChatModel
const logger = memoryLogger()
let nextUserId = 3_900_000

beforeAll(async () => {
  stack = await startStack()
  stub = await startModelStub()
  model = createOpenAiModel({ baseUrl: stub.url, model: 'gpt-4o-mini', maxTokens: 400 })
  const client = createEStarsClient({ url: stack.server.url, apiKey: stack.apiKey })
  await applyCatalog(client, logger)
  reference = createBot({
    token: stack.sandbox.bot().token,
    apiRoot: stack.sandbox.apiRoot,
    client,
    model,
    logger,
  })
  await new Promise<void>((resolve, reject) => {
    reference.bot.launch(() => resolve()).catch(reject)
  })
}, 120_000)

afterAll(async () => {
  reference?.bot.stop('test end')
  await stub?.close()
  await stack?.close()
})

const setPolicy = (overagePolicy: 'cap' | 'debt' | 'absorb') =>
  updateProjectSettings(stack.db, { projectId: stack.projectId, actor: 'test', overagePolicy })

async function newUser(credits: number, freeLeft = false) {
  const id = nextUserId++
  const user = stack.sandbox.createUser({ id, firstName: `Over${id}` })
  await stack.client.customers.upsert.mutate({ telegramUserId: id, firstName: user.first_name })
  if (!freeLeft)
    await stack.client.usage.consumeFeature.mutate({
      telegramUserId: id,
      feature: 'ai.tokens',
      quantity: 5000,
      idempotencyKey: randomUUID(),
    })
  if (credits)
    await stack.client.credits.grant.mutate({
      telegramUserId: id,
      amount: credits,
      reason: 'overage funds',
      source: 'promo',
      idempotencyKey: randomUUID(),
    })
  return { id, chat: userOf(stack.sandbox, id) }
}

const shortfallsOf = async (telegramUserId: number) =>
  (
    await listLedger(stack.db, { projectId: stack.projectId, telegramUserId, limit: 100 })
  ).entries.filter((e) => e.kind === 'shortfall')
const balanceOf = (telegramUserId: number) => stack.client.credits.balance.query({ telegramUserId })
const isCostedAnswer = (m: Message) => /\n— [\d,]+ tokens · /.test(m.text ?? '')
const footer = (m: Message) => m.text?.split('\n').at(-1) ?? ''

describe('each overage policy, the model over-reporting', () => {
  it('cap: the engine caps max_tokens at what 3 credits pay; the overage is a loss on the ledger', async () => {
    await setPolicy('cap')
    stub.reply = completion('A very long answer.', 6050)
    const user = await newUser(3)
    const prompt = 'Tell me everything about the universe'
    const reply = await user.chat.say(prompt, isCostedAnswer, 20_000)
    const promptPart = model.estimate(prompt) - model.maxTokens
    expect(stub.seen.at(-1)?.body.max_tokens).toBe(300 - promptPart)
    const [entry] = await shortfallsOf(user.id)
    expect(entry?.metadata).toMatchObject({ policy: 'cap', unpaidUnits: 5750, unpaidCredits: 58 })
    expect(footer(reply)).toContain('58 credits unpaid')
    expect(await balanceOf(user.id)).toMatchObject({ available: 0, held: 0, debt: 0 })
  })

  it('debt: the unpaid part is owed, the footer says so, the next top-up repays it', async () => {
    await setPolicy('debt')
    stub.reply = completion('A very long answer.', 6050)
    const user = await newUser(3)
    const reply = await user.chat.say('Tell me everything about the stars', isCostedAnswer, 20_000)
    const [entry] = await shortfallsOf(user.id)
    expect(entry).toMatchObject({ debtChange: 58 })
    expect(footer(reply)).toContain(
      WORDS.ask.cost({ charged: 3, freeQuantity: 0, shortfall: 58, overage: { debt: 58 } }),
    )
    expect(footer(reply)).toContain('58 credits owed')
    expect(await balanceOf(user.id)).toMatchObject({ available: 0, debt: 58 })
    await stack.client.credits.grant.mutate({
      telegramUserId: user.id,
      amount: 100,
      reason: 'top-up',
      source: 'promo',
      idempotencyKey: randomUUID(),
    })
    expect(await balanceOf(user.id)).toMatchObject({ available: 42, debt: 0 })
    expect(logger.lines.some((l) => l.msg?.includes('unpaid part was not charged'))).toBe(true)
  })

  it('absorb: recorded as a loss, no debt', async () => {
    await setPolicy('absorb')
    stub.reply = completion('A very long answer.', 6050)
    const user = await newUser(3)
    const reply = await user.chat.say('Tell me everything about the sea', isCostedAnswer, 20_000)
    const [entry] = await shortfallsOf(user.id)
    expect(entry?.metadata).toMatchObject({ policy: 'absorb', absorbed: 58 })
    expect(entry).toMatchObject({ amount: 0, debtChange: 0 })
    expect(footer(reply)).toContain('58 credits unpaid')
    expect(await balanceOf(user.id)).toMatchObject({ available: 0, debt: 0 })
  })

  it('only the free allowance held it: 5,000 free, 0 credits, 6,050 reported — an entry for the 11 credits', async () => {
    await setPolicy('cap')
    stub.reply = completion('Another long answer.', 6050)
    const user = await newUser(0, true)
    const reply = await user.chat.say('What is the meaning of life?', isCostedAnswer, 20_000)
    const [entry] = await shortfallsOf(user.id)
    expect(entry?.metadata).toMatchObject({ unpaidUnits: 1050, unpaidCredits: 11 })
    expect(footer(reply)).toMatch(/\b11 credits unpaid\b/)
  })
})
