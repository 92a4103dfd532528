import { inflateSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodePng } from '../src/image/png.ts'
import { renderImage } from '../src/image/render.ts'
import { createOfflineModel } from '../src/model/offline.ts'
import {
  createOpenAiModel,
  ModelError,
  providerOf,
  retryAfterSeconds,
} from '../src/model/openai.ts'
import { countTokens, tokenizerFor, truncateToTokens } from '../src/model/tokenizer.ts'
import { priceTokens, SYSTEM_PROMPT, usdToMicros } from '../src/model/types.ts'
import { startModelStub } from './model-stub.ts'

describe('the tokenizer', () => {
  // Token ids as OpenAI's tiktoken gives them for the same strings (o200k_base, cl100k_base).
  it('counts English as o200k and cl100k do, by model family', () => {
    expect(tokenizerFor('gpt-4o-mini').encode('Hello, world!')).toEqual([13225, 11, 2375, 0])
    expect(tokenizerFor('gpt-4').encode('Hello, world!')).toEqual([9906, 11, 1917, 0])
    expect(countTokens('Hello, world! How are you doing today?', 'gpt-4o')).toBe(10)
  })

  it('counts Chinese by its real tokens, not by words (the old regex made it one token)', () => {
    const text = '你好，世界！今天天气很好。'
    expect(countTokens(text, 'gpt-4.1')).toBe(9)
    expect(countTokens(text, 'gpt-3.5-turbo')).toBe(16)
  })

  it('counts code', () => {
    const code = 'function add(a, b) {\n  return a + b\n}'
    expect(countTokens(code, 'gpt-5')).toBe(14)
    expect(countTokens(code, 'gpt-4-turbo')).toBe(14)
    expect(tokenizerFor('gpt-4-turbo').encoding).toBe('cl100k_base')
    expect(tokenizerFor('openai/gpt-4o').encoding).toBe('o200k_base')
    expect(tokenizerFor('llama-3.1-8b').encoding).toBe('o200k_base')
    expect(countTokens('')).toBe(0)
  })

  it('cuts text to a token budget on a character boundary', () => {
    const text = '你好，世界！今天天气很好。 Plenty more words after this.'
    for (const max of [0, 1, 3, 7, 12]) {
      const cut = truncateToTokens(text, max)
      expect(text.startsWith(cut)).toBe(true)
      expect(countTokens(cut)).toBeLessThanOrEqual(max)
    }
    expect(truncateToTokens('short', 10)).toBe('short')
  })
})

describe('the offline model', () => {
  const model = createOfflineModel({ maxTokens: 60 })

  it('answers the same prompt the same way and counts its tokens honestly', async () => {
    const a = await model.complete('What is a good habit?')
    const b = await model.complete('What is a good habit?')
    expect(a).toEqual(b)
    expect(a.text).toMatch(/^\(offline model\) About “What is a good habit\?”: /)
    expect(a.usage.promptTokens).toBe(countTokens(`${SYSTEM_PROMPT}\nWhat is a good habit?`))
    expect(a.usage.completionTokens).toBe(countTokens(a.text))
    expect(a.usage.totalTokens).toBe(a.usage.promptTokens + a.usage.completionTokens)
    // The usage record for meter(): the same tokens and the configured price's cost, rounded up.
    expect(a.record).toEqual({
      provider: 'e-stars',
      model: 'offline',
      inputTokens: a.usage.promptTokens,
      outputTokens: a.usage.completionTokens,
      costMicros: Math.ceil(
        (a.usage.promptTokens * 150_000 + a.usage.completionTokens * 600_000) / 1e6,
      ),
    })
    const dear = createOfflineModel({
      price: { inputPerMillionMicros: 2_000_000, outputPerMillionMicros: 10_000_000 },
    })
    const c = await dear.complete('What is a good habit?')
    expect(c.record.costMicros).toBe(
      priceTokens(
        { inputPerMillionMicros: 2_000_000, outputPerMillionMicros: 10_000_000 },
        c.usage.promptTokens,
        c.usage.completionTokens,
      ),
    )
    expect(c.record.costMicros).toBeGreaterThan(a.record.costMicros ?? 0)
  })

  it('never uses more than its estimate (the reservation covers every answer)', async () => {
    for (const prompt of ['x', 'Tell me everything about the universe '.repeat(20), '¿Qué?']) {
      const answer = await model.complete(prompt)
      expect(answer.usage.completionTokens).toBeLessThanOrEqual(60)
      expect(answer.usage.totalTokens).toBeLessThanOrEqual(model.estimate(prompt))
    }
  })
})

describe('an OpenAI-compatible model', () => {
  let stub: Awaited<ReturnType<typeof startModelStub>>
  let url = ''
  const seen = () => stub.seen
  beforeAll(async () => {
    stub = await startModelStub()
    url = stub.url
  })
  afterAll(() => stub.close())

  it('posts chat completions and settles the usage the server reports', async () => {
    stub.reply = {
      status: 200,
      body: {
        model: 'tiny-1',
        choices: [{ message: { role: 'assistant', content: 'Hi there' } }],
        usage: { prompt_tokens: 21, completion_tokens: 3, total_tokens: 24 },
      },
    }
    const model = createOpenAiModel({
      baseUrl: `${url}/`,
      apiKey: 'sk-test',
      model: 'tiny',
      maxTokens: 50,
    })
    const answer = await model.complete('Hello?')
    expect(answer).toEqual({
      text: 'Hi there',
      model: 'tiny-1',
      usage: { promptTokens: 21, completionTokens: 3, totalTokens: 24 },
      // The host is neither OpenAI nor OpenRouter: the provider is the host itself.
      record: { provider: '127.0.0.1', model: 'tiny-1', inputTokens: 21, outputTokens: 3 },
    })
    expect(seen().at(-1)).toEqual({
      auth: 'Bearer sk-test',
      body: {
        model: 'tiny',
        max_tokens: 50,
        messages: [
          { role: 'system', content: SYSTEM_PROMPT },
          { role: 'user', content: 'Hello?' },
        ],
      },
    })
    expect(model.estimate('Hello?')).toBeGreaterThan(50)
  })

  it('passes cached and reasoning tokens and the provider’s own cost (OpenRouter’s usage.cost)', async () => {
    stub.reply = {
      status: 200,
      body: {
        model: 'openai/gpt-4o-mini',
        choices: [{ message: { content: 'Sure.' } }],
        usage: {
          prompt_tokens: 1200,
          completion_tokens: 80,
          total_tokens: 1280,
          prompt_tokens_details: { cached_tokens: 1000 },
          completion_tokens_details: { reasoning_tokens: 30 },
          cost: 0.0001,
        },
      },
    }
    const model = createOpenAiModel({ baseUrl: url, model: 'gpt-4o-mini', provider: 'openrouter' })
    expect((await model.complete('Hi')).record).toEqual({
      provider: 'openrouter',
      model: 'openai/gpt-4o-mini',
      inputTokens: 1200,
      outputTokens: 80,
      cachedInputTokens: 1000,
      reasoningTokens: 30,
      // 0.0001 USD is 100 micro-USD exactly, not 101 (float noise is not rounded up).
      costMicros: 100,
    })
    expect(providerOf('https://openrouter.ai/api/v1')).toBe('openrouter')
    expect(providerOf('https://api.openai.com/v1')).toBe('openai')
    expect(usdToMicros(0.000_123_4)).toBe(124)
    expect(usdToMicros(0)).toBe(0)
    // A negative cost is not a cost: the answer is refused as unexpected, nothing is settled.
    stub.reply = {
      status: 200,
      body: {
        choices: [{ message: { content: 'x' } }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2, cost: -1 },
      },
    }
    await expect(model.complete('Hi')).rejects.toThrow(/unexpected answer/)
  })

  it('counts with the local tokenizer when the server reports no usage, and says so', async () => {
    stub.reply = { status: 200, body: { choices: [{ message: { content: 'Fine, thanks.' } }] } }
    const answer = await createOpenAiModel({ baseUrl: url, model: 'tiny' }).complete('How are you?')
    expect(answer.usage.completionTokens).toBe(countTokens('Fine, thanks.'))
    expect(answer.estimated).toBe(true)
    expect(seen().at(-1)?.auth).toBeUndefined()
  })

  it('passes a lower answer cap when the call asks for one (what the hold can pay)', async () => {
    stub.reply = { status: 200, body: { choices: [{ message: { content: 'ok' } }] } }
    const model = createOpenAiModel({ baseUrl: url, model: 'tiny', maxTokens: 300 })
    await model.complete('x', { maxTokens: 40 })
    expect(seen().at(-1)?.body.max_tokens).toBe(40)
    await model.complete('x', { maxTokens: 9000 })
    expect(seen().at(-1)?.body.max_tokens).toBe(300)
  })

  it('a 429 whose Retry-After fits the timeout is retried once, after waiting that long', async () => {
    const waits: number[] = []
    stub.queued.push({ status: 429, body: { error: 'slow down' }, headers: { 'retry-after': '2' } })
    stub.reply = { status: 200, body: { choices: [{ message: { content: 'after the wait' } }] } }
    const before = seen().length
    const model = createOpenAiModel({
      baseUrl: url,
      model: 'tiny',
      timeoutMs: 10_000,
      sleep: async (ms) => {
        waits.push(ms)
      },
    })
    expect((await model.complete('x')).text).toBe('after the wait')
    expect(waits).toEqual([2000])
    expect(seen().length - before).toBe(2)
  })

  it('a 429 whose Retry-After does not fit the timeout says when to try again, without waiting', async () => {
    stub.queued.push({ status: 429, body: {}, headers: { 'retry-after': '120' } })
    const model = createOpenAiModel({
      baseUrl: url,
      model: 'tiny',
      timeoutMs: 5000,
      sleep: () => Promise.reject(new Error('must not wait')),
    })
    const error = await model.complete('x').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ModelError)
    expect(error).toMatchObject({ status: 429, retryAfterSeconds: 120 })
    expect(retryAfterSeconds(new Date(Date.now() + 30_000).toUTCString())).toBeGreaterThan(28)
    expect(retryAfterSeconds('soon')).toBeNull()
  })

  it('gives up after the configured timeout', async () => {
    const hanging = createOpenAiModel({
      baseUrl: url,
      model: 'tiny',
      timeoutMs: 200,
      fetch: (_input, init) =>
        new Promise((_resolve, reject) =>
          init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
        ),
    })
    const started = Date.now()
    await expect(hanging.complete('x')).rejects.toThrow(/did not answer/)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('throws ModelError on an HTTP error, a malformed body or no answer', async () => {
    stub.reply = { status: 500, body: { error: 'boom' } }
    await expect(createOpenAiModel({ baseUrl: url, model: 'tiny' }).complete('x')).rejects.toThrow(
      ModelError,
    )
    stub.reply = { status: 200, body: { choices: [] } }
    await expect(createOpenAiModel({ baseUrl: url, model: 'tiny' }).complete('x')).rejects.toThrow(
      /unexpected answer/,
    )
    await expect(
      createOpenAiModel({ baseUrl: 'http://127.0.0.1:1', model: 'tiny' }).complete('x'),
    ).rejects.toThrow(/did not answer/)
  })
})

describe('images', () => {
  it('encodes a valid PNG: signature, IHDR, IDAT rows that inflate back to the pixels', () => {
    const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])
    const png = encodePng(2, 2, rgb)
    expect(png.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    )
    expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR')
    expect(png.readUInt32BE(16)).toBe(2)
    expect(png.readUInt32BE(20)).toBe(2)
    const idatLength = png.readUInt32BE(33)
    expect(png.subarray(37, 41).toString('ascii')).toBe('IDAT')
    const raw = inflateSync(png.subarray(41, 41 + idatLength))
    expect([...raw]).toEqual([0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 9, 9, 9])
    expect(png.subarray(-8, -4).toString('ascii')).toBe('IEND')
    expect(() => encodePng(2, 2, rgb.subarray(1))).toThrow(RangeError)
  })

  it('renders the same picture for the same prompt, a different one for another', () => {
    const a = renderImage('a red fox in the snow', 64)
    expect(a.png.equals(renderImage('A red fox in the snow ', 64).png)).toBe(true)
    expect(a.png.equals(renderImage('a blue whale', 64).png)).toBe(false)
    expect(renderImage('x').width).toBe(256)
  })
})
