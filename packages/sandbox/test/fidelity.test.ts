// What the conformance run against Bot API 10.3 asked of the sandbox: getMe's capability
// fields, entities/has_protected_content/reply_to_message on sent messages, the invoice Pay
// button, Telegram's exact error descriptions, and Telegram's lenient reading of parameters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSandbox, type Message, type Sandbox, type User } from '../src/index.ts'
import { type BotApiReply, callApi } from './helpers.ts'

const ALICE = 2_000_001

describe('sandbox fidelity (Bot API 10.3)', () => {
  let sandbox: Sandbox
  let token: string
  const api = (method: string, params: Record<string, unknown> = {}) =>
    callApi(sandbox.apiRoot, token, method, params)

  /** A call as a form post (every value a string), as curl or PHP bots send it. */
  async function form(method: string, params: Record<string, string>, query = '') {
    const res = await fetch(`${sandbox.apiRoot}/bot${token}/${method}${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    })
    return (await res.json()) as BotApiReply
  }

  const refused = (description: string) => ({ ok: false, error_code: 400, description })
  const sent = async (params: Record<string, unknown>) => {
    const reply = await api('sendMessage', { chat_id: ALICE, ...params })
    expect(reply, JSON.stringify(params)).toMatchObject({ ok: true })
    return reply.result as Message
  }

  beforeAll(async () => {
    sandbox = await createSandbox({ users: [{ id: ALICE, firstName: 'Alice' }] })
    token = sandbox.bot().token
    sandbox.sendText(ALICE, '/start')
  })
  afterAll(() => sandbox.close())

  it('getMe returns every capability field; the bot as a message sender carries none', async () => {
    const me = (await api('getMe')).result as User & Record<string, unknown>
    expect(me).toEqual({
      id: sandbox.bot().user.id,
      is_bot: true,
      first_name: sandbox.bot().user.first_name,
      username: sandbox.bot().user.username,
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      supports_guest_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
      has_topics_enabled: false,
      allows_users_to_create_topics: false,
      can_manage_bots: false,
      supports_join_request_queries: false,
    })
    const message = await sent({ text: 'hi' })
    expect(message.from).toEqual({
      id: me.id,
      is_bot: true,
      first_name: me.first_name,
      username: me.username,
    })
  })

  it('a bot made with other BotFather settings reports them', async () => {
    const other = sandbox.createBot({ capabilities: { has_main_web_app: true } })
    const me = await callApi(sandbox.apiRoot, other.token, 'getMe')
    expect(me.result).toMatchObject({ has_main_web_app: true, can_join_groups: true })
    const made = await sandbox.fetchControl('/sandbox/bots', {
      method: 'POST',
      body: { capabilities: { supports_inline_queries: true } },
    })
    const created = (await made.json()) as { result: { token: string } }
    expect((await callApi(sandbox.apiRoot, created.result.token, 'getMe')).result).toMatchObject({
      supports_inline_queries: true,
    })
    const unknown = await sandbox.fetchControl('/sandbox/bots', {
      method: 'POST',
      body: { capabilities: { can_fly: true } },
    })
    expect(unknown.status).toBe(400)
  })

  it('sendMessage returns the entities of parse_mode HTML and MarkdownV2, in UTF-16 units', async () => {
    const html = await sent({ text: '⭐ <b>Pro</b> for <i>30 days</i>', parse_mode: 'HTML' })
    expect(html.text).toBe('⭐ Pro for 30 days')
    expect(html.entities).toEqual([
      { type: 'bold', offset: 2, length: 3 },
      { type: 'italic', offset: 10, length: 7 },
    ])
    const md = await sent({
      text: '💎 *Pack* `x2` [terms](https://example.com/t)',
      parse_mode: 'MarkdownV2',
    })
    expect(md.text).toBe('💎 Pack x2 terms')
    expect(md.entities).toEqual([
      { type: 'bold', offset: 3, length: 4 },
      { type: 'code', offset: 8, length: 2 },
      { type: 'text_link', offset: 11, length: 5, url: 'https://example.com/t' },
    ])
    const plain = await sent({ text: 'no markup' })
    expect(plain).not.toHaveProperty('entities')
  })

  it('a caption gets caption_entities; a caption of only markup is none', async () => {
    const photo = await api('sendPhoto', {
      chat_id: ALICE,
      photo: 'AgACAgSANDBOXchart',
      caption: '<b>Usage</b> chart',
      parse_mode: 'HTML',
    })
    expect(photo.result).toMatchObject({
      caption: 'Usage chart',
      caption_entities: [{ type: 'bold', offset: 0, length: 5 }],
    })
    const bare = await api('sendPhoto', {
      chat_id: ALICE,
      photo: 'AgACAgSANDBOXchart',
      caption: '<i> </i>',
      parse_mode: 'HTML',
    })
    expect(bare.result).not.toHaveProperty('caption')
  })

  it('sendMessage returns the entities it was given, and editMessageText keeps them', async () => {
    const entities = [{ type: 'underline', offset: 0, length: 4 }]
    const message = await sent({ text: 'Note this', entities })
    expect(message.entities).toEqual(entities)
    const edited = await api('editMessageText', {
      chat_id: ALICE,
      message_id: message.message_id,
      text: '<s>Note</s> that',
      parse_mode: 'HTML',
    })
    expect(edited.result).toMatchObject({
      text: 'Note that',
      entities: [{ type: 'strikethrough', offset: 0, length: 4 }],
    })
  })

  it('refuses markup Telegram cannot parse with its own description', async () => {
    expect(
      await api('sendMessage', { chat_id: ALICE, text: 'a.b', parse_mode: 'MarkdownV2' }),
    ).toMatchObject(
      refused(
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'",
      ),
    )
    expect(
      await api('sendMessage', { chat_id: ALICE, text: '<b>x', parse_mode: 'HTML' }),
    ).toMatchObject(
      refused(
        `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`,
      ),
    )
    expect(await api('sendMessage', { chat_id: ALICE, text: '' })).toMatchObject(
      refused('Bad Request: message text is empty'),
    )
    expect(await api('sendMessage', { chat_id: 'alice', text: 'x' })).toMatchObject(
      refused('Bad Request: chat not found'),
    )
  })

  it("a user's message gets the entities Telegram finds in it", () => {
    const message = sandbox.sendText(ALICE, 'see https://example.com/faq or /help@sandbox_bot')
    expect(message.entities).toEqual([
      { type: 'url', offset: 4, length: 23 },
      { type: 'bot_command', offset: 31, length: 17 },
    ])
    expect(sandbox.sendText(ALICE, 'just words').entities).toBeUndefined()
  })

  it('has_protected_content for protect_content, read as Telegram reads booleans', async () => {
    expect((await sent({ text: 'a', protect_content: true })).has_protected_content).toBe(true)
    expect(
      (await sent({ text: 'b', protect_content: false })).has_protected_content,
    ).toBeUndefined()
    for (const [value, protectedContent] of [
      ['true', true],
      ['1', true],
      ['yes', true],
      ['TRUE', true],
      ['false', undefined],
      ['0', undefined],
      ['nope', undefined],
    ] as const) {
      const reply = await form('sendMessage', {
        chat_id: String(ALICE),
        text: 'c',
        protect_content: value,
      })
      expect((reply.result as Message).has_protected_content, value).toBe(protectedContent)
    }
  })

  it('reply_to_message for reply_parameters (no nested reply), legacy reply_to_message_id too', async () => {
    const first = await sent({ text: 'first' })
    const second = await sent({
      text: 'second',
      reply_parameters: { message_id: first.message_id },
    })
    expect(second.reply_to_message).toEqual(first)
    const third = await sent({ text: 'third', reply_parameters: { message_id: second.message_id } })
    expect(third.reply_to_message?.message_id).toBe(second.message_id)
    expect(third.reply_to_message).not.toHaveProperty('reply_to_message')
    const legacy = await form('sendMessage', {
      chat_id: String(ALICE),
      text: 'legacy',
      reply_to_message_id: String(first.message_id),
    })
    expect((legacy.result as Message).reply_to_message?.message_id).toBe(first.message_id)
    const asText = await sent({
      text: 'ids as text',
      reply_parameters: JSON.stringify({ message_id: String(first.message_id), chat_id: ALICE }),
    })
    expect(asText.reply_to_message?.message_id).toBe(first.message_id)
  })

  it("an unknown reply target is refused with Telegram's error unless allow_sending_without_reply", async () => {
    expect(
      await api('sendMessage', {
        chat_id: ALICE,
        text: 'x',
        reply_parameters: { message_id: 9999 },
      }),
    ).toMatchObject(refused('Bad Request: message to be replied not found'))
    const sentAnyway = await sent({
      text: 'x',
      reply_parameters: { message_id: 9999, allow_sending_without_reply: true },
    })
    expect(sentAnyway).not.toHaveProperty('reply_to_message')
    const cases: [unknown, string][] = [
      [
        { message_id: 1, allow_sending_without_reply: 'true' },
        'Bad Request: field "allow_sending_without_reply" must be of type Boolean',
      ],
      [{ message_id: true }, 'Bad Request: field "message_id" must be a Number'],
      [{ chat_id: ALICE }, 'Bad Request: can\'t find field "message_id"'],
      ['{oops', "Bad Request: can't parse reply parameters JSON object"],
      [5, 'Bad Request: object expected as reply parameters'],
    ]
    for (const [reply_parameters, description] of cases) {
      expect(
        await api('sendMessage', { chat_id: ALICE, text: 'x', reply_parameters }),
        description,
      ).toMatchObject(refused(description))
    }
  })

  it('sendInvoice refuses a keyboard whose first button is not a Pay button (REPLY_MARKUP_BUY_EMPTY)', async () => {
    const invoice = {
      chat_id: ALICE,
      title: 'Pack',
      description: 'Credits',
      payload: 'p-1',
      currency: 'XTR',
      prices: [{ label: 'Pack', amount: 10 }],
    }
    const keyboard = (...rows: Record<string, unknown>[][]) => ({ inline_keyboard: rows })
    expect(
      await api('sendInvoice', {
        ...invoice,
        reply_markup: keyboard(
          [{ text: 'Help', callback_data: 'help' }],
          [{ text: 'Pay', pay: true }],
        ),
      }),
    ).toMatchObject(refused('Bad Request: REPLY_MARKUP_BUY_EMPTY'))
    const ok = await api('sendInvoice', {
      ...invoice,
      reply_markup: keyboard(
        [{ text: 'Pay ⭐10', pay: true }],
        [{ text: 'Help', callback_data: 'help' }],
      ),
    })
    expect((ok.result as Message).reply_markup).toEqual(
      keyboard([{ text: 'Pay ⭐10', pay: true }], [{ text: 'Help', callback_data: 'help' }]),
    )
    expect(
      await api('sendMessage', {
        chat_id: ALICE,
        text: 'no invoice',
        reply_markup: keyboard([{ text: 'Pay', pay: true }]),
      }),
    ).toMatchObject(refused('Bad Request: BUTTON_TYPE_INVALID'))
  })

  it('reply_markup errors are worded as Telegram words them; only inline keyboards stay on the message', async () => {
    const cases: [unknown, string][] = [
      ['{oops', "Bad Request: can't parse reply keyboard markup JSON object"],
      [5, 'Bad Request: object expected as reply markup'],
      [{ inline_keyboard: {} }, 'Bad Request: field "inline_keyboard" must be of type Array'],
      [
        { inline_keyboard: [{ text: 'x' }] },
        'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays',
      ],
      [
        { inline_keyboard: [[{ text: true, callback_data: 'x' }]] },
        'Bad Request: can\'t parse inline keyboard button: Field "text" must be of type String',
      ],
      [
        { inline_keyboard: [[{ text: 'plain' }]] },
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
      ],
    ]
    for (const [reply_markup, description] of cases) {
      expect(
        await api('sendMessage', { chat_id: ALICE, text: 'x', reply_markup }),
        description,
      ).toMatchObject(refused(description))
    }
    const withKeyboard = await sent({
      text: 'menu',
      reply_markup: { keyboard: [['A', { text: 'B' }]] },
    })
    expect(withKeyboard).not.toHaveProperty('reply_markup')
    const inline = await sent({
      text: 'menu',
      reply_markup: { inline_keyboard: [[{ text: 'Go', callback_data: 'go', hide: false }]] },
    })
    expect(inline.reply_markup).toEqual({
      inline_keyboard: [[{ text: 'Go', callback_data: 'go' }]],
    })
  })

  it('integers come as numbers or text, in the body or the query string, as Telegram reads them', async () => {
    const { date } = await sent({ text: 'now' })
    for (let i = 0; i < 3; i++) {
      sandbox.recordEarlierCharge({
        user: { id: ALICE },
        title: 'Old pack',
        payload: `old-${i}`,
        amount: 1 + i,
        date: date - 100 + i,
      })
    }
    const all = (await api('getStarTransactions')).result as { transactions: unknown[] }
    const count = all.transactions.length
    expect(count).toBeGreaterThanOrEqual(3)
    const page = async (reply: BotApiReply) =>
      (reply.result as { transactions: unknown[] }).transactions
    expect(await page(await form('getStarTransactions', { offset: '1', limit: '2' }))).toEqual(
      all.transactions.slice(1, 3),
    )
    expect(await page(await form('getStarTransactions', {}, '?offset=1&limit=1'))).toEqual(
      all.transactions.slice(1, 2),
    )
    // td::to_integer: leading digits count, no digits is 0 (then clamped: limit 1..100).
    expect(await page(await form('getStarTransactions', { limit: '2abc' }))).toHaveLength(2)
    expect(await page(await form('getStarTransactions', { limit: 'many' }))).toHaveLength(1)
    expect(await page(await api('getStarTransactions', { limit: true }))).toHaveLength(1)
  })

  it('a parameter in the query string wins over the body, and a repeated one keeps its first value', async () => {
    const res = await fetch(`${sandbox.apiRoot}/bot${token}/sendMessage?text=from%20query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chat_id: ALICE, text: 'from body' }),
    })
    expect(((await res.json()) as BotApiReply).result).toMatchObject({ text: 'from query' })
    const repeated = await fetch(`${sandbox.apiRoot}/bot${token}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `chat_id=${ALICE}&text=first&text=second`,
    })
    expect(((await repeated.json()) as BotApiReply).result).toMatchObject({ text: 'first' })
    const notAnObject = await fetch(`${sandbox.apiRoot}/bot${token}/getMe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[1]',
    })
    expect(await notAnObject.json()).toMatchObject(refused('Bad Request: JSON object expected'))
  })

  it('wrong types where Telegram refuses them: user_id, chat_id', async () => {
    expect(
      await api('refundStarPayment', { user_id: 'alice', telegram_payment_charge_id: 'x' }),
    ).toMatchObject(refused('Bad Request: invalid user_id specified'))
    expect(
      await api('refundStarPayment', { user_id: { id: ALICE }, telegram_payment_charge_id: 'x' }),
    ).toMatchObject(refused('Bad Request: invalid user_id specified'))
    expect(
      await form('refundStarPayment', {
        user_id: String(ALICE),
        telegram_payment_charge_id: 'stxNOPE',
      }),
    ).toMatchObject(refused('Bad Request: CHARGE_NOT_FOUND'))
    expect(await api('sendMessage', { chat_id: { id: ALICE }, text: 'x' })).toMatchObject(
      refused('Bad Request: chat not found'),
    )
  })

  it('allowed_updates: names in any case; text Telegram cannot read keeps the previous setting', async () => {
    await api('getUpdates', { allowed_updates: ['Message', 'Callback_Query'] })
    const info = async () => (await api('getWebhookInfo')).result as { allowed_updates?: string[] }
    expect((await info()).allowed_updates).toEqual(['message', 'callback_query'])
    expect(await form('getUpdates', { allowed_updates: '{oops' })).toMatchObject({ ok: true })
    expect(await api('getUpdates', { allowed_updates: [1, 2] })).toMatchObject({ ok: true })
    expect((await info()).allowed_updates).toEqual(['message', 'callback_query'])
  })
})
