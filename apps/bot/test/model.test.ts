import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inflateSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodePng } from '../src/image/png.ts'
import { renderImage } from '../src/image/render.ts'
import { createOfflineModel } from '../src/model/offline.ts'
import { createOpenAiModel, ModelError } from '../src/model/openai.ts'
import { countTokens, tokenize } from '../src/model/tokenizer.ts'
import { SYSTEM_PROMPT } from '../src/model/types.ts'

describe('the tokenizer', () => {
  it('splits words with their leading space, long words by 4 characters, marks one by one', () => {
    expect(tokenize('Hello, world!')).toEqual(['Hell', 'o', ',', ' wor', 'ld', '!'])
    // A run of spaces before a word is one token of its own.
    expect(tokenize('a b  c')).toEqual(['a', ' b', '  ', 'c'])
    expect(countTokens('')).toBe(0)
    expect(countTokens('🙂🙂')).toBe(2)
  })

  it('loses nothing: the tokens join back to the text', () => {
    const text = 'Pay 50 ⭐ for 500 credits — über-fast, naïve façade.\n\tNew line'
    expect(tokenize(text).join('')).toBe(text)
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
  let url = ''
  let reply: { status: number; body: unknown } = { status: 200, body: {} }
  const seen: Array<{ auth: string | undefined; body: Record<string, unknown> }> = []
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    seen.push({
      auth: req.headers.authorization,
      body: JSON.parse(Buffer.concat(chunks).toString()),
    })
    res
      .writeHead(reply.status, { 'content-type': 'application/json' })
      .end(JSON.stringify(reply.body))
  })
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  it('posts chat completions and settles the usage the server reports', async () => {
    reply = {
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
    })
    expect(seen.at(-1)).toEqual({
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

  it('counts with the local tokenizer when the server reports no usage', async () => {
    reply = { status: 200, body: { choices: [{ message: { content: 'Fine, thanks.' } }] } }
    const answer = await createOpenAiModel({ baseUrl: url, model: 'tiny' }).complete('How are you?')
    expect(answer.usage.completionTokens).toBe(countTokens('Fine, thanks.'))
    expect(seen.at(-1)?.auth).toBeUndefined()
  })

  it('throws ModelError on an HTTP error, a malformed body or no answer', async () => {
    reply = { status: 500, body: { error: 'boom' } }
    await expect(createOpenAiModel({ baseUrl: url, model: 'tiny' }).complete('x')).rejects.toThrow(
      ModelError,
    )
    reply = { status: 200, body: { choices: [] } }
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
