import { validate } from '@tma.js/init-data-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSandbox, miniAppHost, type SANDBOX_THEMES, type Sandbox } from '../src/index.ts'
import { callApi, createShopBot, launchPolling, PACK, type ShopBot } from './helpers.ts'

const PROJECT = '0b5c7d4e-2f3a-4b1c-9d8e-7f6a5b4c3d2e'

describe('Mini App host page', () => {
  let sandbox: Sandbox
  let shop: ShopBot

  beforeAll(async () => {
    sandbox = await createSandbox({
      users: [
        { id: 2_000_001, firstName: 'Alice', username: 'alice' },
        { id: 2_000_002, firstName: 'Bob' },
      ],
      extensions: [miniAppHost({ appUrl: 'http://127.0.0.1:9/miniapp/' })],
    })
    shop = createShopBot(sandbox.bot().token, sandbox.apiRoot)
    await launchPolling(shop.bot)
  })
  afterAll(async () => {
    shop?.bot.stop()
    await sandbox?.close()
  })

  /** The configuration the host page hands its script. */
  async function hostConfig(query: string) {
    const res = await fetch(`${sandbox.url}/miniapp${query}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
    const html = await res.text()
    const json = /const config = (\{.*\});/.exec(html)?.[1]
    return JSON.parse(json!) as {
      appUrl: string
      initData: string
      userId: number
      theme: string
      themes: typeof SANDBOX_THEMES
    }
  }

  it('opens the Mini App with init data signed by the bot’s token for the chosen user', async () => {
    const config = await hostConfig(`?user=2000002&theme=dark&project=${PROJECT}`)
    expect(config.userId).toBe(2_000_002)
    expect(config.theme).toBe('dark')
    expect(config.themes.dark.bg_color).toBe('#212121')
    expect(config.appUrl).toBe(`http://127.0.0.1:9/miniapp/?project=${PROJECT}`)
    expect(() => validate(config.initData, sandbox.bot().token)).not.toThrow()
    expect(() => validate(config.initData, '1:another')).toThrow()
    const user = JSON.parse(new URLSearchParams(config.initData).get('user')!)
    expect(user).toMatchObject({ id: 2_000_002, first_name: 'Bob' })
  })

  it('defaults to the first user and the light theme, and passes no unchecked project through', async () => {
    const config = await hostConfig('?project=%22%3E%3Cscript%3E')
    expect(config.userId).toBe(2_000_001)
    expect(config.theme).toBe('light')
    expect(config.appUrl).toBe('http://127.0.0.1:9/miniapp/')
  })

  it('serves the telegram-web-app.js stand-in', async () => {
    const res = await fetch(`${sandbox.url}/miniapp/telegram-web-app.js`)
    expect(res.headers.get('content-type')).toContain('javascript')
    expect(await res.text()).toContain('web_app_open_invoice')
  })

  it('shows an invoice link’s terms and pays it through pre-checkout and successful_payment', async () => {
    const link = await callApi(sandbox.apiRoot, sandbox.bot().token, 'createInvoiceLink', {
      ...PACK,
      currency: 'XTR',
      provider_token: '',
      prices: [{ label: PACK.title, amount: PACK.amount }],
    })
    const slug = String(link.result).split('$')[1]!
    const terms = await (await fetch(`${sandbox.url}/miniapp/invoice?slug=${slug}`)).json()
    expect(terms).toEqual({
      ok: true,
      result: expect.objectContaining({
        title: PACK.title,
        amount: PACK.amount,
        subscriptionPeriod: null,
      }),
    })
    const paid = await fetch(`${sandbox.url}/miniapp/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 2_000_001, slug }),
    })
    const body = (await paid.json()) as {
      ok: boolean
      result: { status: string; chargeId: string }
    }
    expect(body.result.status).toBe('paid')
    await expect
      .poll(() => shop.log.successfulPayments.map((p) => p.telegram_payment_charge_id))
      .toContain(body.result.chargeId)
  })

  it('answers unknown invoices and bad input with the sandbox’s errors, and leaves other paths alone', async () => {
    const unknown = await fetch(`${sandbox.url}/miniapp/invoice?slug=nope`)
    expect(unknown.status).toBe(404)
    const bad = await fetch(`${sandbox.url}/miniapp/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'x', slug: 'a' }),
    })
    expect(bad.status).toBe(400)
    expect((await fetch(`${sandbox.url}/miniapps`)).status).toBe(404)
  })

  it('pays only for its own page: another site’s form post or a text/plain post is refused', async () => {
    const slug = 'any-slug'
    const foreign = await fetch(`${sandbox.url}/miniapp/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body: JSON.stringify({ userId: 2_000_001, slug }),
    })
    expect(foreign.status).toBe(403)
    const simple = await fetch(`${sandbox.url}/miniapp/pay`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ userId: 2_000_001, slug }),
    })
    expect(simple.status).toBe(415)
  })
})
