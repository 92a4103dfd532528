import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { listPayments } from '@e-stars/billing'
import { signInitData } from '@e-stars/sandbox'
import type { BrowserContext, FrameLocator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALICE, BOB, launchBrowser, screenshotDir, startWorld, type World } from './world.ts'

let world: World
let browser: BrowserContext
let page: Page
let app: FrameLocator
const offLoopback: string[] = []

/** Waits for the page to catch up with the server (payments arrive through the webhook). */
const eventually = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 20_000 })

const balance = () => app.getByTestId('balance').textContent()
const tab = (name: 'Wallet' | 'Shop' | 'Pro') => app.getByRole('button', { name, exact: true })

/** Opens the payment sheet for a product and pays it in the sandbox host. */
async function buy(productKey: string) {
  await app.locator(`[data-product="${productKey}"] button`).click()
  await page.getByRole('dialog', { name: 'Payment' }).waitFor()
  await page.locator('#pay').click()
}

/** The charge id of the newest payment of `productKey`, as recorded by e-Stars. */
async function chargeOf(productKey: string) {
  const { payments } = await listPayments(world.database.db, { projectId: world.projectId })
  return payments.find((p) => p.productKey === productKey)?.telegramPaymentChargeId ?? null
}

const shot = (name: string) =>
  page.locator('#phone').screenshot({ path: join(screenshotDir, `${name}.png`) })

/** The screens for docs/screenshots: the phone frame (390 px wide) and the whole host page. */
const docsDir = fileURLToPath(new URL('../../../docs/screenshots', import.meta.url))
async function docsShot(screen: string) {
  await page.locator('#phone').screenshot({ path: join(docsDir, `miniapp-${screen}-390.png`) })
  await page.screenshot({ path: join(docsDir, `miniapp-${screen}-1280.png`) })
}

beforeAll(async () => {
  mkdirSync(screenshotDir, { recursive: true })
  world = await startWorld()
  browser = await launchBrowser()
  // Nothing may be downloaded at run time: requests off loopback are refused and listed.
  await browser.route(/^(?!http:\/\/127\.0\.0\.1[:/]).*/, (route) => {
    offLoopback.push(route.request().url())
    return route.abort()
  })
})
afterAll(async () => {
  await browser?.close()
  await world?.close()
})

describe('the reference Mini App in the sandbox Telegram, in a real browser', () => {
  it('signs in from init data and shows an empty wallet', async () => {
    page = await browser.newPage()
    const loaded: string[] = []
    page.on('request', (request) => loaded.push(request.url()))
    await page.goto(world.hostUrl(ALICE))
    app = page.frameLocator('#app')
    await app.getByText('Hi, Alice').waitFor()
    await eventually(balance).toBe('0 credits')
    await app.getByText('Nothing unlocked yet.').waitFor()
    expect(loaded.some((url) => url.endsWith('/telegram-web-app.sandbox.js'))).toBe(true)
    expect(loaded.some((url) => url.includes('telegram.org'))).toBe(false)
  })

  it('buys a pack with openInvoice and shows the new balance', async () => {
    await tab('Shop').click()
    await buy('pack_s')
    await eventually(balance).toBe('500 credits')
    await eventually(() => app.getByTestId('notice').textContent()).toContain('Pack S: done')
    expect(await chargeOf('pack_s')).toMatch(/^stx/)
  })

  it('says each product once: no credits repeated, no "every 30 days" next to "/ month"', async () => {
    const cards = await app.locator('.product').allTextContents()
    expect(cards.length).toBeGreaterThan(0)
    await docsShot('shop')
    for (const card of cards) {
      const counts = (card.match(/[\d,]+ credits?/g) ?? []).map((c) => c.replaceAll(',', ''))
      expect(new Set(counts).size, card).toBe(counts.length)
      expect(card).not.toContain('every 30 days')
      expect(card).not.toMatch(/(\d+ days).*· \1/)
    }
    await tab('Wallet').click()
    await docsShot('wallet')
    const limits = await app.locator('main').textContent()
    expect(limits).not.toMatch(/this day\b/)
    await tab('Shop').click()
  })

  it('believes the server, not a client that reports "failed" for a payment that went through', async () => {
    await page.locator('#glitch').check()
    await buy('pack_m')
    await eventually(balance).toBe('1,700 credits')
    await eventually(() => app.getByTestId('notice').textContent()).toContain('Pack M: done')
    await page.locator('#glitch').uncheck()
  })

  it('a cancelled payment changes nothing', async () => {
    await app.locator('[data-product="pack_l"] button').click()
    await page.getByRole('dialog', { name: 'Payment' }).waitFor()
    await page.locator('#cancel').click()
    await eventually(() => app.getByTestId('notice').textContent()).toContain('No payment was made')
    expect(await balance()).toBe('1,700 credits')
  })

  it('keeps the premium screen closed until the unlock is bought, then opens it', async () => {
    await tab('Pro').click()
    await app.getByTestId('premium-locked').waitFor()
    expect(await app.getByTestId('premium-open').count()).toBe(0)
    await buy('pro_30d')
    await app.getByTestId('premium-open').waitFor({ timeout: 20_000 })
    await docsShot('premium')
    await tab('Wallet').click()
    await app.getByText('Pro mode').waitFor()
  })

  it('spends credits on the metered action', async () => {
    await app.getByRole('button', { name: /Make a wallpaper/ }).click()
    await app.getByTestId('wallpaper').waitFor()
    await eventually(balance).toBe('1,690 credits')
    await eventually(() => app.getByTestId('activity').textContent()).toContain('wallpaper')
  })

  it('follows Telegram’s theme: light and dark', async () => {
    const background = () =>
      app.locator('body').evaluate((body) => getComputedStyle(body).backgroundColor)
    expect(await background()).toBe('rgb(239, 239, 243)')
    await shot('miniapp-light')
    await page.locator('#dark').check()
    await eventually(background).toBe('rgb(24, 24, 24)')
    expect(await app.getByTestId('balance').evaluate((el) => getComputedStyle(el).color)).toBe(
      'rgb(255, 255, 255)',
    )
    await shot('miniapp-dark')
    await tab('Pro').click()
    await app.getByTestId('premium-open').waitFor()
    await shot('miniapp-dark-premium')
    await page.locator('#dark').uncheck()
  })

  it('closes the premium screen again after the unlock is refunded', async () => {
    const charge = await chargeOf('pro_30d')
    expect(charge).not.toBeNull()
    world.sandbox.refundPayment(charge!)
    await app.getByRole('button', { name: 'Refresh' }).click()
    await eventually(async () => {
      await tab('Pro').click()
      return app.getByTestId('premium-locked').count()
    }).toBe(1)
    expect(await app.getByTestId('premium-open').count()).toBe(0)
    await tab('Wallet').click()
    await app.getByText('Nothing unlocked yet.').waitFor()
  })

  it('shows another user only their own wallet', async () => {
    const bob = await browser.newPage()
    await bob.goto(world.hostUrl(BOB, 'dark'))
    const bobApp = bob.frameLocator('#app')
    await bobApp.getByText('Hi, Bob').waitFor()
    await eventually(() => bobApp.getByTestId('balance').textContent()).toBe('0 credits')
    await bobApp.getByText('No activity yet.').waitFor()
    await bob.close()
  })

  it('refuses init data signed for another bot over HTTP with the one sign-in refusal', async () => {
    const alice = world.sandbox.users().find((u) => u.id === ALICE)!
    const response = await fetch(`${world.server.url}/trpc/miniApp.signIn`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        projectId: world.projectId,
        initData: signInitData(alice, '1000099:another-bot'),
      }),
    })
    expect(response.status).toBe(401)
    const body = (await response.json()) as {
      error: { data: { code: string; billing: { code: string; reason: string } } }
    }
    expect(body.error.data.code).toBe('UNAUTHORIZED')
    expect(body.error.data.billing).toEqual({
      code: 'INIT_DATA_REJECTED',
      reason: 'refused',
      authDate: null,
      maxAgeSeconds: null,
    })
  })

  it('downloaded nothing from outside loopback', () => {
    expect(offLoopback).toEqual([])
  })
})
