import { randomUUID } from 'node:crypto'
import { createEStarsClient } from '@e-stars/api/client'
import { grantCredits, listLedger } from '@e-stars/billing'
import type { Message } from '@e-stars/sandbox'
import { Telegram } from 'telegraf'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { applyCatalog } from '../src/apply-catalog.ts'
import { createBot, MAX_QUEUED_PER_CHAT, type ReferenceBot } from '../src/bot.ts'
import { createOfflineModel } from '../src/model/offline.ts'
import { createOpenAiModel } from '../src/model/openai.ts'
import type { ChatModel, CompleteOptions } from '../src/model/types.ts'
import { TELEGRAM_LIMITS } from '../src/wording.ts'
import { opening, startsWith, WORDS } from './catalog-words.ts'
import { completion, startModelStub } from './model-stub.ts'
import { eventually, memoryLogger, type Stack, sleep, startStack, userOf } from './stack.ts'

/**
 * The trial of issue 19, repeated: the reference bot in front of a model that can be made slow,
 * failing or generous with tokens, with the demo's prices (1 credit per 100 tokens, 5 000 free
 * tokens a day). Each test is a user of its own.
 */
let stack: Stack
let reference: ReferenceBot
let logger: ReturnType<typeof memoryLogger>
let stub: Awaited<ReturnType<typeof startModelStub>>
let model: ChatModel
const calls: Array<{ prompt: string; options: CompleteOptions | undefined }> = []
/** Settle calls to fail (as a network error) before they reach e-Stars. */
const network = { failSettles: 0 }
let nextUserId = 3_100_000

beforeAll(async () => {
  stack = await startStack()
  stub = await startModelStub()
  logger = memoryLogger()
  const client = createEStarsClient({
    url: stack.server.url,
    apiKey: stack.apiKey,
    fetch: (input, init) => {
      if (String(input).includes('usage.settleFeature') && network.failSettles > 0) {
        network.failSettles -= 1
        return Promise.reject(new TypeError('fetch failed'))
      }
      return fetch(input, init)
    },
  })
  await applyCatalog(client, logger)
  // Whatever `model` is now: each test picks the model its trial needs.
  const switchable: ChatModel = {
    name: 'switchable',
    get maxTokens() {
      return model.maxTokens
    },
    estimate: (prompt) => model.estimate(prompt),
    complete: (prompt, options) => {
      calls.push({ prompt, options })
      return model.complete(prompt, options)
    },
  }
  reference = createBot({
    token: stack.sandbox.bot().token,
    apiRoot: stack.sandbox.apiRoot,
    client,
    model: switchable,
    logger,
  })
  await new Promise<void>((resolve, reject) => {
    reference.bot.launch(() => resolve()).catch(reject)
  })
})

afterAll(async () => {
  reference?.bot.stop('test end')
  await stub?.close()
  await stack?.close()
})

afterEach(() => {
  vi.restoreAllMocks()
  model = createOfflineModel()
})

/** A fresh user who has started the bot, with `credits` and (by default) no free tokens left. */
async function newUser(options: { credits?: number; freeLeft?: boolean } = {}) {
  const id = nextUserId++
  const user = stack.sandbox.createUser({ id, firstName: `Trial${id}` })
  await stack.client.customers.upsert.mutate({ telegramUserId: id, firstName: user.first_name })
  if (!options.freeLeft)
    await stack.client.usage.consumeFeature.mutate({
      telegramUserId: id,
      feature: 'ai.tokens',
      quantity: 5000,
      idempotencyKey: randomUUID(),
    })
  if (options.credits)
    await stack.client.credits.grant.mutate({
      telegramUserId: id,
      amount: options.credits,
      reason: 'trial funds',
      source: 'promo',
      idempotencyKey: randomUUID(),
    })
  return { id, name: user.first_name, chat: userOf(stack.sandbox, id) }
}

const ledgerOf = async (telegramUserId: number) =>
  (await listLedger(stack.db, { projectId: stack.projectId, telegramUserId, limit: 100 })).entries
const balanceOf = (telegramUserId: number) => stack.client.credits.balance.query({ telegramUserId })
/** An answer once its cost is on it (the settle comes after delivery). */
const isCostedAnswer = (m: Message) => /\n— [\d,]+ tokens · /.test(m.text ?? '')

/** A model that answers at once, except for prompts with "hang" until `open()` is called. */
function hangingModel() {
  let open = () => {}
  const gate = new Promise<void>((resolve) => {
    open = resolve
  })
  const offline = createOfflineModel()
  const hanging: ChatModel = {
    ...offline,
    async complete(prompt, options) {
      if (prompt.includes('hang')) await gate
      return offline.complete(prompt, options)
    },
  }
  return { model: hanging, open: () => open() }
}

describe('one slow model call stalls nobody (issue 19, 1)', () => {
  it('two users, the model hanging for one: the other’s /start answers while it still hangs; per-chat order is kept', async () => {
    const a = await newUser({ freeLeft: true })
    const b = await newUser({ freeLeft: true })
    // Warm (the first /start of a process compiles its queries): the bound is about stalls.
    await b.chat.say('/start', startsWith(WORDS.start.welcome(b.name)))
    const hang = hangingModel()
    model = hang.model
    const question = stack.sandbox.sendText(a.id, 'Please hang on this one')
    await sleep(100)
    const balanceAsked = stack.sandbox.sendText(a.id, '/balance')
    // No wall-clock bound (a busy machine is slow, not stalled): the model hangs until
    // `open()`, so B's welcome arriving while A's question is still unanswered is the proof.
    const welcome = await b.chat.say('/start', startsWith(WORDS.start.welcome(b.name)), 5000)
    expect(a.chat.since(question.message_id)).toEqual([])
    expect(welcome.text).toContain(WORDS.start.balance(0))
    // The first user's /balance waits for their answer, not the other way round.
    await sleep(200)
    expect(a.chat.since(question.message_id)).toEqual([])
    hang.open()
    const answer = await a.chat.next(question.message_id, isCostedAnswer)
    const balance = await a.chat.next(
      balanceAsked.message_id,
      startsWith(opening(WORDS.balance.available(0), 1)),
    )
    expect(balance.message_id).toBeGreaterThan(answer.message_id)
  })
})

describe('a flood from one chat', () => {
  it('queues up to MAX_QUEUED_PER_CHAT updates; the ones past it are told to wait, not piled up', async () => {
    const user = await newUser({ freeLeft: true })
    const hang = hangingModel()
    model = hang.model
    const first = stack.sandbox.sendText(user.id, 'hang 0')
    for (let i = 1; i < MAX_QUEUED_PER_CHAT + 2; i++) stack.sandbox.sendText(user.id, `hang ${i}`)
    await eventually(
      () => user.chat.since(first.message_id).filter((m) => m.text === WORDS.busy).length === 2,
    )
    hang.open()
    await eventually(
      () => user.chat.since(first.message_id).filter(isCostedAnswer).length === MAX_QUEUED_PER_CHAT,
      10_000,
    )
  })
})

describe('an answer cannot cost more than its hold, and the footer tells the truth (issue 19, 2)', () => {
  it('the hold caps max_tokens at what the balance can pay; an over-reporting model’s unpaid part is said', async () => {
    model = createOpenAiModel({ baseUrl: stub.url, model: 'gpt-4o-mini', maxTokens: 400 })
    stub.reply = completion('A very long answer.', 6050)
    const user = await newUser({ credits: 3 })
    const prompt = 'Tell me everything about the universe'
    const reply = await user.chat.say(prompt, isCostedAnswer)
    // 3 credits pay 300 tokens; the prompt's share of the estimate leaves the rest to the answer.
    const promptPart = model.estimate(prompt) - model.maxTokens
    expect(stub.seen.at(-1)?.body.max_tokens).toBe(300 - promptPart)
    expect(calls.at(-1)?.options?.maxTokens).toBe(300 - promptPart)
    const settle = (await ledgerOf(user.id)).find((e) => e.kind === 'settle')
    const facts = settle?.metadata as { charged: number; shortfall: number; freeQuantity: number }
    expect(facts.shortfall).toBeGreaterThan(0)
    expect(reply.text?.endsWith(`${WORDS.ask.tokens(6050)} · ${WORDS.ask.cost(facts)}`)).toBe(true)
    expect(reply.text).toContain(`${facts.shortfall} credits unpaid`)
    expect(await balanceOf(user.id)).toMatchObject({ available: 0, held: 0 })
  })

  it('the trial’s case: 5 000 free tokens left, 0 credits, 6 050 reported — 11 credits are said unpaid, not "free"', async () => {
    model = createOpenAiModel({ baseUrl: stub.url, model: 'gpt-4o-mini', maxTokens: 400 })
    stub.reply = completion('Another long answer.', 6050)
    const user = await newUser({ freeLeft: true })
    const reply = await user.chat.say('What is the meaning of life?', isCostedAnswer)
    const cost = WORDS.ask.cost({ charged: 0, freeQuantity: 5000, shortfall: 11 })
    expect(reply.text?.endsWith(`${WORDS.ask.tokens(6050)} · ${cost}`)).toBe(true)
    // Whatever the words: the 11 unpaid credits are in the footer.
    expect(reply.text?.split('\n').at(-1)).toMatch(/\b11\b/)
    expect(logger.lines.some((l) => l.msg?.includes('unpaid part was not charged'))).toBe(true)
  })
})

describe('charged only for answers delivered (issue 19, 3)', () => {
  it('a failed send releases the hold: nothing is charged', async () => {
    const user = await newUser({ credits: 100 })
    const send = Telegram.prototype.sendMessage
    vi.spyOn(Telegram.prototype, 'sendMessage').mockImplementation(function (
      this: Telegram,
      chatId,
      text,
      extra,
    ) {
      if (chatId === user.id && String(text).includes('\n— '))
        return Promise.reject(new Error('400: Bad Request: chat not reachable'))
      return send.call(this, chatId, text, extra)
    })
    stack.sandbox.sendText(user.id, 'Why is the sky blue?')
    await eventually(async () => (await ledgerOf(user.id)).some((e) => e.kind === 'release'))
    const kinds = (await ledgerOf(user.id)).map((e) => e.kind)
    expect(kinds).not.toContain('settle')
    expect(kinds.slice(0, 2)).toEqual(['release', 'hold'])
    expect(await balanceOf(user.id)).toMatchObject({ available: 100, held: 0 })
    expect(logger.lines.some((l) => l.msg?.startsWith('sending the answer failed'))).toBe(true)
  })

  it('a settle that fails after delivery is retried with the same key: the answer is charged once', async () => {
    const user = await newUser({ credits: 100 })
    network.failSettles = 2
    const reply = await user.chat.say('Is the settle retried?', isCostedAnswer, 10_000)
    expect(network.failSettles).toBe(0)
    const settles = (await ledgerOf(user.id)).filter((e) => e.kind === 'settle')
    expect(settles).toHaveLength(1)
    const charged = Number((settles[0]?.metadata as { charged?: number } | undefined)?.charged)
    expect(charged).toBeGreaterThan(0)
    expect(reply.text).toContain(WORDS.ask.cost({ charged, freeQuantity: 0, shortfall: 0 }))
    expect(await balanceOf(user.id)).toMatchObject({ available: 100 - charged, held: 0 })
  })

  it('a picture whose settle fails after it was sent is settled by the retry, once', async () => {
    const user = await newUser({ credits: 100 })
    network.failSettles = 1
    const photo = await user.chat.say('/imagine a lighthouse', (m) => m.photo !== undefined)
    expect(photo.caption).toContain('a lighthouse')
    await eventually(async () => (await ledgerOf(user.id)).some((e) => e.kind === 'settle'))
    expect(network.failSettles).toBe(0)
    const settles = (await ledgerOf(user.id)).filter((e) => e.kind === 'settle')
    expect(settles.map((e) => e.reason)).toEqual(['Image'])
    expect(await balanceOf(user.id)).toMatchObject({ available: 80, held: 0 })
  })
})

describe('groups (issue 19, 4)', () => {
  const GROUP = -1_001_234_567
  /** Bot API calls to the group, answered here (the sandbox has private chats only). */
  function recordGroupCalls() {
    const sent: Array<{ method: string; payload: Record<string, unknown> }> = []
    const callApi = Telegram.prototype.callApi
    vi.spyOn(Telegram.prototype, 'callApi').mockImplementation(function (
      this: Telegram,
      method,
      payload,
      options,
    ) {
      const fields = payload as Record<string, unknown>
      if (fields.chat_id !== GROUP) return callApi.call(this, method, payload, options)
      sent.push({ method, payload: fields })
      return Promise.resolve({ message_id: sent.length, date: 0, chat: { id: GROUP } }) as never
    } as typeof callApi)
    return sent
  }
  let updateId = 900_000
  const groupText = (from: number, text: string, entities: unknown[] = []) =>
    reference.bot.handleUpdate({
      update_id: updateId++,
      message: {
        message_id: updateId,
        date: Math.floor(Date.now() / 1000),
        chat: { id: GROUP, type: 'supergroup', title: 'Trial group' },
        from: { id: from, is_bot: false, first_name: 'Grouped' },
        text,
        ...(entities.length ? { entities } : {}),
      },
    } as never)

  it('nothing is metered without a mention; a mention or a command gets a private-chat button, never a balance', async () => {
    const user = await newUser({ credits: 100 })
    const sent = recordGroupCalls()
    const username = reference.bot.botInfo?.username ?? ''
    const before = calls.length
    await groupText(user.id, 'what is two plus two?')
    await sleep(200)
    expect(sent).toEqual([])
    expect(calls.length).toBe(before)

    const mention = `@${username} what is two plus two?`
    await groupText(user.id, mention, [{ type: 'mention', offset: 0, length: username.length + 1 }])
    await groupText(user.id, '/balance', [{ type: 'bot_command', offset: 0, length: 8 }])
    await groupText(user.id, '/buy pack_s', [{ type: 'bot_command', offset: 0, length: 4 }])
    await sleep(200)
    expect(sent.map((c) => c.method)).toEqual(['sendMessage', 'sendMessage', 'sendMessage'])
    for (const call of sent) {
      expect(call.payload.text).toBe(WORDS.groups.privateOnly)
      expect(call.payload.reply_markup).toMatchObject({
        inline_keyboard: [
          [{ text: WORDS.groups.button, url: `https://t.me/${username}?start=from_group` }],
        ],
      })
    }
    expect(calls.length).toBe(before)
    expect((await ledgerOf(user.id)).map((e) => e.kind)).toEqual(['grant'])
  })
})

describe('small ones (issue 19, 5)', () => {
  it('a whitespace-only message calls no model and charges nothing', async () => {
    const user = await newUser({ credits: 100 })
    const before = calls.length
    const reply = await user.chat.say(' \n\t ')
    expect(reply.text).toBe(WORDS.ask.empty)
    expect(calls.length).toBe(before)
    expect((await ledgerOf(user.id)).map((e) => e.kind)).toEqual(['grant'])
  })

  it('a response without usage is billed by the local count, logged, and the settle marked estimated', async () => {
    model = createOpenAiModel({ baseUrl: stub.url, model: 'gpt-4o-mini' })
    stub.reply = completion('An answer with no usage reported.', null)
    const user = await newUser({ credits: 100 })
    await user.chat.say('How many tokens was that?', isCostedAnswer)
    const settle = (await ledgerOf(user.id)).find((e) => e.kind === 'settle')
    expect(settle?.reason).toBe('AI answer (estimated)')
    expect(settle?.metadata).toMatchObject({ estimated: true })
    expect(logger.lines.some((l) => l.msg?.includes('reported no usage'))).toBe(true)
  })

  it('a 429 whose Retry-After does not fit the timeout tells the user when to try again; nothing charged', async () => {
    model = createOpenAiModel({ baseUrl: stub.url, model: 'gpt-4o-mini', timeoutMs: 5000 })
    stub.queued.push({ status: 429, body: {}, headers: { 'retry-after': '120' } })
    const user = await newUser({ credits: 100 })
    const reply = await user.chat.say('Are you there?')
    expect(reply.text).toBe(WORDS.ask.modelBusy(120))
    expect((await ledgerOf(user.id)).map((e) => e.kind)).toEqual(['release', 'hold', 'grant'])
  })

  it('parallel refusals send one invoice per burst', async () => {
    const user = await newUser()
    for (const q of ['one?', 'two?', 'three?']) stack.sandbox.sendText(user.id, q)
    const notEnough = opening(WORDS.refusals.notEnough('x', 2, 1, null))
    await eventually(
      () => user.chat.since(0).filter((m) => m.text?.startsWith(notEnough)).length === 3,
    )
    await sleep(300)
    const messages = user.chat.since(0)
    expect(messages.filter((m) => m.invoice !== undefined)).toHaveLength(1)
    const refusals = messages.filter((m) => m.text?.startsWith(notEnough))
    expect(refusals[0]?.text?.endsWith(WORDS.refusals.topUp)).toBe(true)
    expect(refusals[2]?.text?.endsWith(WORDS.refusals.topUpAbove)).toBe(true)
  })
})

describe('inside Telegram’s limits, and support instead of operator names (issue 18, 14–15)', () => {
  it('/usage with long ledger reasons stays under 4 096 characters and says "support" for operators', async () => {
    const user = await newUser({ freeLeft: true })
    // Eleven long reasons, then a short one: the newest line shows who granted it.
    for (let i = 0; i < 12; i++)
      await grantCredits(stack.db, {
        projectId: stack.projectId,
        telegramUserId: user.id,
        amount: 1,
        reason:
          i === 11
            ? 'Goodwill'
            : `Goodwill ${i}: ${'sorry for the long outage and thank you for waiting '.repeat(8)}`,
        source: 'manual',
        actor: 'operator:dana@example.com',
        idempotencyKey: randomUUID(),
      })
    const usage = await user.chat.say('/usage', startsWith(WORDS.usage.title))
    expect([...(usage.text ?? '')].length).toBeLessThanOrEqual(TELEGRAM_LIMITS.message)
    const lines = usage.text?.split('\n').slice(1) ?? []
    expect(lines).toHaveLength(10)
    for (const line of lines.slice(1)) expect(line.endsWith('…')).toBe(true)
    expect(lines[0]).toMatch(new RegExp(`Goodwill \\(granted by ${WORDS.usage.operator}\\)$`))
    expect(usage.text).not.toContain('dana')
  })

  it('a model answer past 4 096 characters is cut to fit, footer included', async () => {
    model = createOpenAiModel({ baseUrl: stub.url, model: 'gpt-4o-mini' })
    stub.reply = completion('word '.repeat(2000), 2100)
    const user = await newUser({ credits: 100 })
    const reply = await user.chat.say('Write a lot', isCostedAnswer)
    expect([...(reply.text ?? '')].length).toBeLessThanOrEqual(TELEGRAM_LIMITS.message)
    expect(reply.text).toContain(`…\n\n${WORDS.ask.tokens(2100)} · `)
  })
})
