import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSandbox, type Message, type Sandbox, type StarTransaction } from '../src/index.ts'
import { createShopBot, launchPolling, PACK, type ShopBot } from './helpers.ts'

interface ControlReply<T> {
  status: number
  ok: boolean
  result: T
  error?: { code: string; message: string }
}

describe('control API over HTTP', () => {
  let sandbox: Sandbox
  let shop: ShopBot

  async function control<T = unknown>(method: 'GET' | 'POST', path: string, body?: unknown) {
    const res = await sandbox.fetchControl(path, { method, body })
    return { status: res.status, ...((await res.json()) as Omit<ControlReply<T>, 'status'>) }
  }

  beforeAll(async () => {
    sandbox = await createSandbox({
      extensions: [
        {
          name: 'hello-page',
          handle: (req, res) => {
            if (req.url !== '/hello') return false
            res.writeHead(200, { 'content-type': 'text/plain' }).end('hello from an extension')
            return true
          },
        },
      ],
    })
    shop = createShopBot(sandbox.bot().token, sandbox.apiRoot)
    await launchPolling(shop.bot)
  })
  afterAll(async () => {
    shop.bot.stop('test end')
    await sandbox.close()
  })

  it('drives a user through /start, a button, payment and a Telegram refund', async () => {
    const user = await control<{ id: number }>('POST', 'users', { firstName: 'Carol' })
    expect(user).toMatchObject({ status: 200, ok: true, result: { id: 2_000_001 } })
    const userId = user.result.id

    const start = await control<Message>('POST', 'messages', { userId, text: '/start' })
    const welcome = await control<Message>('POST', 'messages/wait', {
      userId,
      textIncludes: 'Welcome',
      afterMessageId: start.result.message_id,
    })
    expect(welcome.result.text).toBe('Welcome! Pick a pack.')
    const press = await control<{ callbackQueryId: string }>('POST', 'button-presses', {
      userId,
      messageId: welcome.result.message_id,
      data: 'buy:100',
    })
    const answer = await control('POST', 'callback-answers/wait', {
      callbackQueryId: press.result.callbackQueryId,
    })
    expect(answer.result).toEqual({ text: 'Invoice sent' })
    const waited = await control<Message>('POST', 'messages/wait', { userId, invoice: true })
    const transcript = await control<Message[]>('GET', `transcript?userId=${userId}`)
    const invoice = transcript.result.find((m) => m.invoice)
    expect(invoice).toEqual(waited.result)
    expect(invoice?.invoice?.total_amount).toBe(PACK.amount)

    const paid = await control<{ status: string; chargeId: string }>('POST', 'payments', {
      userId,
      messageId: invoice?.message_id,
    })
    expect(paid.result.status).toBe('paid')
    expect((await control('GET', 'balance')).result).toEqual({ amount: PACK.amount })

    const refunded = await control<Message>('POST', 'refunds', { chargeId: paid.result.chargeId })
    expect(refunded.result.refunded_payment?.telegram_payment_charge_id).toBe(paid.result.chargeId)
    const rows = await control<StarTransaction[]>('GET', 'transactions')
    expect(rows.result.map((r) => (r.source ? 'charge' : 'refund'))).toEqual(['charge', 'refund'])
    expect(await control('POST', 'refunds', { chargeId: paid.result.chargeId })).toMatchObject({
      status: 409,
      ok: false,
      error: { code: 'CONFLICT', message: 'CHARGE_ALREADY_REFUNDED' },
    })
  })

  it('advances the clock, sets faults, reports state, and rejects bad input', async () => {
    const before = sandbox.clock.now()
    const advanced = await control<{ now: number }>('POST', 'clock/advance', { ms: 86_400_000 })
    expect(advanced.result.now).toBeGreaterThanOrEqual(before + 86_400_000)
    expect(await control('POST', 'faults', { kind: 'drop' })).toMatchObject({ ok: true })
    expect(await control('POST', 'faults', { kind: 'explode' })).toMatchObject({
      status: 400,
      error: { code: 'BAD_INPUT' },
    })
    expect(await control('POST', 'refunds', { chargeId: 'stxNOPE' })).toMatchObject({
      status: 404,
      error: { code: 'NOT_FOUND' },
    })
    const state = await control<{ apiRoot: string; bots: { token?: string }[] }>('GET', 'state')
    expect(state.result.apiRoot).toBe(sandbox.apiRoot)
    expect(state.result.bots).toEqual([{ user: expect.objectContaining({ is_bot: true }) }])
    const withTokens = await control<{ bots: { token: string }[] }>('GET', 'state?botTokens=true')
    expect(withTokens.result.bots.map((b) => b.token)).toEqual(['1000001:sandbox'])
  })

  describe('its doors', () => {
    const post = (path: string, headers: Record<string, string>, body = '{"firstName":"Eve"}') =>
      fetch(`${sandbox.url}/sandbox/${path}`, { method: 'POST', headers, body })
    const json = { 'content-type': 'application/json' }

    it('refuses a call without this run’s token, or with another one', async () => {
      const users = sandbox.users().length
      expect((await fetch(`${sandbox.url}/sandbox/state`)).status).toBe(401)
      expect((await post('users', json)).status).toBe(401)
      expect(
        (await post('users', { ...json, authorization: `Bearer ${'x'.repeat(32)}` })).status,
      ).toBe(401)
      expect((await fetch(`${sandbox.url}/sandbox/files/anything`)).status).toBe(401)
      expect(sandbox.users()).toHaveLength(users)
    })

    it('refuses a cross-origin simple request (text/plain) and a foreign Origin, even with the token', async () => {
      const users = sandbox.users().length
      const simple = await post('users', {
        'content-type': 'text/plain',
        ...sandbox.controlHeaders(),
      })
      expect(simple.status).toBe(415)
      const foreign = await post('users', {
        ...json,
        ...sandbox.controlHeaders(),
        origin: 'https://evil.example',
      })
      expect(foreign.status).toBe(403)
      expect(await foreign.json()).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
      expect(sandbox.users()).toHaveLength(users)
      const own = await post('users', { ...json, ...sandbox.controlHeaders(), origin: sandbox.url })
      expect(own.status).toBe(200)
    })

    it('takes a token given at start, and a different sandbox has its own', async () => {
      const other = await createSandbox({ controlToken: 'a-token-for-this-run-only' })
      try {
        expect(other.controlToken).toBe('a-token-for-this-run-only')
        expect(other.controlToken).not.toBe(sandbox.controlToken)
        const res = await fetch(`${other.url}/sandbox/state`, {
          headers: { authorization: 'Bearer a-token-for-this-run-only' },
        })
        expect(res.status).toBe(200)
        expect((await other.fetchControl('state')).status).toBe(200)
        const wrong = await fetch(`${other.url}/sandbox/state`, {
          headers: sandbox.controlHeaders(),
        })
        expect(wrong.status).toBe(401)
      } finally {
        await other.close()
      }
    })

    it('keeps the Bot API routes as Telegram has them (the bot token is the credential)', async () => {
      const me = await fetch(`${sandbox.apiRoot}/bot${sandbox.bot().token}/getMe`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
      expect(await me.json()).toMatchObject({ ok: true, result: { is_bot: true } })
    })
  })

  it('hands other paths to extensions, then answers 404', async () => {
    const page = await fetch(`${sandbox.url}/hello`)
    expect(await page.text()).toBe('hello from an extension')
    expect((await fetch(`${sandbox.url}/elsewhere`)).status).toBe(404)
  })
})
