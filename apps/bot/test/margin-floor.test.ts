import { randomUUID } from 'node:crypto'
import {
  grantCredits,
  marginFloorMaxTokens,
  setFeatureMarginFloor,
  setModelPrice,
} from '@e-stars/billing'
import type { Message } from '@e-stars/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOpenAiModel } from '../src/model/openai.ts'
import type { ChatModel } from '../src/model/types.ts'
import { WORDS } from './catalog-words.ts'
import { completion, startModelStub } from './model-stub.ts'
import { launchBot, type Stack, startStack, userOf } from './stack.ts'

/**
 * Issue 19 on the margin floor: a feature's floor is honoured by the reference bot. The reserve
 * carries the call as expected (provider, model, prompt tokens, the answer's cap); when the floor
 * binds, e-Stars answers a lower `maxOutputTokens` and the model is asked for no more; when even
 * the prompt breaks it (MARGIN_FLOOR_BREACHED), the user is told so, and nothing is held or called.
 */
let stack: Stack
let stub: Awaited<ReturnType<typeof startModelStub>>
let model: ChatModel
let stop: () => void
let nextUserId = 3_950_000

const FLOOR_PERCENT = 50
const CREDITS = 10
/** The lot's worth: 1,000 micro-USD a credit, so the held value is exact. */
const LOT_VALUE_MICROS = 10_000
const PRICE = { provider: 'openai', model: 'gpt-4o-mini' }

beforeAll(async () => {
  stack = await startStack()
  stub = await startModelStub()
  model = createOpenAiModel({
    baseUrl: stub.url,
    model: PRICE.model,
    provider: PRICE.provider,
    maxTokens: 400,
  })
  ;({ stop } = await launchBot(stack, model))
  await setFeatureMarginFloor(stack.db, {
    projectId: stack.projectId,
    featureKey: 'ai.tokens',
    floorPercent: FLOOR_PERCENT,
    actor: 'test',
  })
}, 120_000)

afterAll(async () => {
  stop?.()
  await stub?.close()
  await stack?.close()
})

const setPrice = (inputPerMillionMicros: number, outputPerMillionMicros: number) =>
  setModelPrice(stack.db, {
    projectId: stack.projectId,
    ...PRICE,
    inputPerMillionMicros,
    outputPerMillionMicros,
    updatedBy: 'test',
  })

/** A user whose free allowance is spent and who holds `CREDITS` paid-for credits. */
async function newUser() {
  const id = nextUserId++
  const user = stack.sandbox.createUser({ id, firstName: `Floor${id}` })
  await stack.client.customers.upsert.mutate({ telegramUserId: id, firstName: user.first_name })
  await stack.client.usage.consumeFeature.mutate({
    telegramUserId: id,
    feature: 'ai.tokens',
    quantity: 5000,
    idempotencyKey: randomUUID(),
  })
  await grantCredits(stack.db, {
    projectId: stack.projectId,
    telegramUserId: id,
    amount: CREDITS,
    valueMicros: LOT_VALUE_MICROS,
    reason: 'paid credits',
    source: 'manual',
    actor: 'test',
    idempotencyKey: randomUUID(),
  })
  return { id, chat: userOf(stack.sandbox, id) }
}

const isCostedAnswer = (m: Message) => /\n— [\d,]+ tokens · /.test(m.text ?? '')

describe('the feature margin floor, honoured by the reference bot', () => {
  it('a capped maxOutputTokens from the reserve becomes the model’s max_tokens', async () => {
    // 1 micro-USD a prompt token, 10 an answer token: the floor leaves room for fewer than 400.
    await setPrice(1_000_000, 10_000_000)
    stub.reply = completion('A short answer.', 60)
    const user = await newUser()
    const prompt = 'What is a good first step?'
    const before = stub.seen.length
    await user.chat.say(prompt, isCostedAnswer, 20_000)
    expect(stub.seen.length).toBe(before + 1)
    const promptPart = model.estimate(prompt) - model.maxTokens
    // 1 credit per 100 tokens: the estimate holds ceil(estimate / 100) credits, 1,000 µUSD each.
    const held = Math.ceil(model.estimate(prompt) / 100) * (LOT_VALUE_MICROS / CREDITS)
    const allowed = marginFloorMaxTokens({
      floorPercent: FLOOR_PERCENT,
      heldValueMicros: held,
      price: {
        ...PRICE,
        inputPerMillionMicros: 1_000_000,
        outputPerMillionMicros: 10_000_000,
      } as never,
      inputTokens: promptPart,
    })
    expect(allowed).toBeGreaterThan(0)
    expect(allowed).toBeLessThan(model.maxTokens)
    expect(stub.seen.at(-1)?.body.max_tokens).toBe(allowed)
  })

  it('without a binding floor the model gets its own cap', async () => {
    await setPrice(1, 1)
    stub.reply = completion('A short answer.', 60)
    const user = await newUser()
    await user.chat.say('And the second step?', isCostedAnswer, 20_000)
    expect(stub.seen.at(-1)?.body.max_tokens).toBe(model.maxTokens)
  })

  it('MARGIN_FLOOR_BREACHED: the user is told plainly, the model is not called, nothing is held', async () => {
    // 1,000 micro-USD a prompt token: the prompt alone costs more than the floor allows.
    await setPrice(1_000_000_000, 10_000_000)
    const user = await newUser()
    const before = stub.seen.length
    const reply = await user.chat.say(
      'Tell me about the ocean',
      (m) => m.text === WORDS.refusals.marginFloor,
      20_000,
    )
    expect(reply.text).toBe(WORDS.refusals.marginFloor)
    expect(stub.seen.length).toBe(before)
    expect(await stack.client.credits.balance.query({ telegramUserId: user.id })).toMatchObject({
      available: CREDITS,
      held: 0,
    })
  })
})
