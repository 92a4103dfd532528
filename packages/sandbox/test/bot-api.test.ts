import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSandbox, type Message, type Sandbox, type Update } from '../src/index.ts'
import { callApi, tinyPng } from './helpers.ts'

const ALICE = 2_000_001
const STRANGER = 2_000_009

describe('Bot API surface', () => {
  let sandbox: Sandbox
  let token: string
  const api = (method: string, params: Record<string, unknown> = {}) =>
    callApi(sandbox.apiRoot, token, method, params)

  beforeAll(async () => {
    sandbox = await createSandbox({
      users: [
        { id: ALICE, firstName: 'Alice' },
        { id: STRANGER, firstName: 'Stranger' },
      ],
    })
    token = sandbox.bot().token
    sandbox.sendText(ALICE, 'hello')
  })
  afterAll(() => sandbox.close())

  it('answers 401 Unauthorized for an unknown token and 404 Not Found for an unknown method', async () => {
    expect(await callApi(sandbox.apiRoot, '999:nope', 'getMe')).toEqual({
      status: 401,
      ok: false,
      error_code: 401,
      description: 'Unauthorized',
    })
    expect(await api('sendSticker')).toEqual({
      status: 404,
      ok: false,
      error_code: 404,
      description: 'Not Found',
    })
  })

  it('matches method names case-insensitively and reads query-string and urlencoded params', async () => {
    expect(await api('GETME')).toMatchObject({ ok: true, result: { id: 1_000_001, is_bot: true } })
    const viaQuery = await fetch(
      `${sandbox.apiRoot}/bot${token}/sendMessage?chat_id=${ALICE}&text=from%20query`,
    )
    expect(((await viaQuery.json()) as { result: Message }).result.text).toBe('from query')
    const viaForm = await fetch(`${sandbox.apiRoot}/bot${token}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        chat_id: String(ALICE),
        text: 'from form',
        reply_markup: JSON.stringify({ inline_keyboard: [[{ text: 'Go', callback_data: 'go' }]] }),
      }),
    })
    const sent = ((await viaForm.json()) as { result: Message }).result
    expect(sent).toMatchObject({
      text: 'from form',
      reply_markup: { inline_keyboard: [[{ text: 'Go', callback_data: 'go' }]] },
    })
  })

  it('sendMessage errors are worded as Telegram words them', async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ text: 'x' }, 400, 'Bad Request: chat_id is empty'],
      [{ chat_id: 77, text: 'x' }, 400, 'Bad Request: chat not found'],
      [{ chat_id: ALICE }, 400, 'Bad Request: message text is empty'],
      [{ chat_id: ALICE, text: 'x'.repeat(4097) }, 400, 'Bad Request: message is too long'],
      [
        { chat_id: STRANGER, text: 'x' },
        403,
        "Forbidden: bot can't initiate conversation with a user",
      ],
      [
        { chat_id: ALICE, text: 'x', reply_markup: '{oops' },
        400,
        "Bad Request: can't parse reply keyboard markup JSON object",
      ],
    ]
    for (const [params, status, description] of cases) {
      expect(await api('sendMessage', params)).toEqual({
        status,
        ok: false,
        error_code: status,
        description,
      })
    }
  })

  it('editMessageText edits a bot message and refuses a no-op or a missing message', async () => {
    const sent = (await api('sendMessage', { chat_id: ALICE, text: 'v1' })).result as Message
    const edited = await api('editMessageText', {
      chat_id: ALICE,
      message_id: sent.message_id,
      text: 'v2',
      reply_markup: JSON.stringify({ inline_keyboard: [[{ text: 'OK', callback_data: 'ok' }]] }),
    })
    expect(edited.result).toMatchObject({
      message_id: sent.message_id,
      text: 'v2',
      edit_date: expect.any(Number),
    })
    expect(sandbox.transcript(ALICE).find((m) => m.message_id === sent.message_id)?.text).toBe('v2')
    expect(
      await api('editMessageText', {
        chat_id: ALICE,
        message_id: sent.message_id,
        text: 'v2',
        reply_markup: { inline_keyboard: [[{ text: 'OK', callback_data: 'ok' }]] },
      }),
    ).toMatchObject({
      status: 400,
      description:
        'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
    })
    expect(
      await api('editMessageText', { chat_id: ALICE, message_id: 9999, text: 'x' }),
    ).toMatchObject({
      description: 'Bad Request: message to edit not found',
    })
  })

  it('sendPhoto takes a multipart upload, records its size, and serves the file back', async () => {
    const png = tinyPng(3, 2)
    const form = new FormData()
    form.set('chat_id', String(ALICE))
    form.set('caption', 'chart')
    form.set('photo', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'chart.png')
    const res = await fetch(`${sandbox.apiRoot}/bot${token}/sendPhoto`, {
      method: 'POST',
      body: form,
    })
    const message = ((await res.json()) as { result: Message }).result
    expect(message.caption).toBe('chart')
    expect(message.photo).toEqual([
      {
        file_id: expect.any(String),
        file_unique_id: expect.any(String),
        width: 3,
        height: 2,
        file_size: png.length,
      },
    ])
    const file = await sandbox.fetchControl(`files/${message.photo?.[0]?.file_id}`)
    expect(Buffer.from(await file.arrayBuffer()).equals(png)).toBe(true)
    const byId = await api('sendPhoto', { chat_id: ALICE, photo: message.photo?.[0]?.file_id })
    expect(byId.result).toMatchObject({ photo: [{ width: 3, height: 2 }] })
    expect(await api('sendPhoto', { chat_id: ALICE })).toMatchObject({
      description: 'Bad Request: there is no photo in the request',
    })
  })

  describe('invoice validation', () => {
    const valid = {
      chat_id: ALICE,
      title: 'Pack',
      description: 'Credits',
      payload: 'p-1',
      currency: 'XTR',
      prices: [{ label: 'Pack', amount: 10 }],
    }
    const cases: [string, Record<string, unknown>, string][] = [
      [
        'two prices',
        {
          prices: [
            { label: 'a', amount: 1 },
            { label: 'b', amount: 1 },
          ],
        },
        'STARS_INVOICE_INVALID',
      ],
      ['no price item', { prices: [] }, 'there must be at least one price'],
      ['tips', { max_tip_amount: 5 }, 'STARS_INVOICE_INVALID'],
      ['provider token', { provider_token: '284685063:TEST:abc' }, 'PAYMENT_PROVIDER_INVALID'],
      ['other currency', { currency: 'USD' }, 'CURRENCY_INVALID'],
      ['zero amount', { prices: [{ label: 'a', amount: 0 }] }, 'CURRENCY_TOTAL_AMOUNT_INVALID'],
      [
        'fractional amount',
        { prices: [{ label: 'a', amount: 1.5 }] },
        'can\'t parse labeled price: Field "amount" must be a valid Number',
      ],
      ['payload of 129 bytes', { payload: 'x'.repeat(129) }, 'INVOICE_PAYLOAD_INVALID'],
      ['title of 33 chars', { title: 't'.repeat(33) }, 'INVOICE_TITLE_INVALID'],
      ['description of 256 chars', { description: 'd'.repeat(256) }, 'INVOICE_DESCRIPTION_INVALID'],
    ]
    for (const [name, override, code] of cases) {
      it(`rejects ${name} with ${code}`, async () => {
        const reply = await api('sendInvoice', { ...valid, ...override })
        expect(reply).toEqual({
          status: 400,
          ok: false,
          error_code: 400,
          description: `Bad Request: ${code}`,
        })
      })
    }

    it('accepts the limits: empty provider_token, 128-byte payload, 32-char title', async () => {
      const reply = await api('sendInvoice', {
        ...valid,
        provider_token: '',
        payload: 'é'.repeat(64),
        title: 't'.repeat(32),
        description: 'd'.repeat(255),
      })
      expect(reply.ok).toBe(true)
    })

    it('subscriptions: only a 30-day period, at most 10000 Stars, only via createInvoiceLink', async () => {
      const { chat_id: _chat, ...link } = valid
      expect(
        await api('createInvoiceLink', { ...link, subscription_period: 86_400 }),
      ).toMatchObject({
        description: 'Bad Request: SUBSCRIPTION_PERIOD_INVALID',
      })
      expect(
        await api('createInvoiceLink', {
          ...link,
          subscription_period: 2_592_000,
          prices: [{ label: 'a', amount: 10_001 }],
        }),
      ).toMatchObject({ description: 'Bad Request: STARS_INVOICE_INVALID' })
      expect(
        await api('createInvoiceLink', {
          ...link,
          subscription_period: 2_592_000,
          prices: [{ label: 'a', amount: 10_000 }],
        }),
      ).toMatchObject({ ok: true })
    })
  })

  it('answerPreCheckoutQuery needs an error_message to refuse, and a live query id', async () => {
    expect(
      await api('answerPreCheckoutQuery', { pre_checkout_query_id: '123', ok: true }),
    ).toMatchObject({
      status: 400,
      description:
        'Bad Request: query is too old and response timeout expired or query ID is invalid',
    })
  })
})

describe('several bots', () => {
  it('keeps chats, updates and ledgers per bot, selected by botToken', async () => {
    const sandbox = await createSandbox({ users: [{ id: ALICE }] })
    try {
      const second = sandbox.createBot({ username: 'second_bot' })
      expect(second.token).toMatch(/^\d+:sandbox-/)
      expect(second.user).toMatchObject({ is_bot: true, username: 'second_bot' })
      sandbox.sendText(ALICE, 'to the second', { botToken: second.token })
      const updates = await callApi(sandbox.apiRoot, second.token, 'getUpdates')
      expect((updates.result as Update[]).map((u) => u.message?.text)).toEqual(['to the second'])
      expect(await callApi(sandbox.apiRoot, sandbox.bot().token, 'getUpdates')).toMatchObject({
        result: [],
      })
      expect(sandbox.transcript(ALICE)).toEqual([])
      expect(sandbox.transcript(ALICE, { botToken: second.token })).toHaveLength(1)
      expect(() => sandbox.createBot({ token: second.token })).toThrow(/exists/)
    } finally {
      await sandbox.close()
    }
  })
})

describe('long polling', () => {
  it('waits for an update, confirms by offset, and ends an older concurrent poll with 409', async () => {
    const sandbox = await createSandbox({ users: [{ id: ALICE }] })
    const token = sandbox.bot().token
    const api = (method: string, params: Record<string, unknown> = {}) =>
      callApi(sandbox.apiRoot, token, method, params)
    try {
      const waiting = api('getUpdates', { timeout: 5 })
      setTimeout(() => sandbox.sendText(ALICE, 'ping'), 50)
      const started = Date.now()
      const first = (await waiting).result as Update[]
      expect(Date.now() - started).toBeLessThan(2000)
      expect(first.map((u) => u.message?.text)).toEqual(['ping'])

      // Not confirmed yet: the same update comes again.
      expect(((await api('getUpdates')).result as Update[]).map((u) => u.update_id)).toEqual([
        first[0]?.update_id,
      ])
      sandbox.sendText(ALICE, 'pong')
      const next = (await api('getUpdates', { offset: (first[0]?.update_id ?? 0) + 1 }))
        .result as Update[]
      expect(next.map((u) => u.message?.text)).toEqual(['pong'])
      expect(next[0]?.update_id).toBe((first[0]?.update_id ?? 0) + 1)
      expect(
        await api('getUpdates', { offset: (next[0]?.update_id ?? 0) + 1, limit: 1 }),
      ).toMatchObject({
        result: [],
      })

      const older = api('getUpdates', { timeout: 5 })
      await new Promise((resolve) => setTimeout(resolve, 30))
      const newer = api('getUpdates', { timeout: 1 })
      expect(await older).toMatchObject({
        status: 409,
        description:
          'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
      })
      sandbox.sendText(ALICE, 'late')
      expect(((await newer).result as Update[]).map((u) => u.message?.text)).toEqual(['late'])
    } finally {
      await sandbox.close()
    }
  })
})
