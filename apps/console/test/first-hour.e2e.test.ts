import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  consume,
  getOverview,
  getProjectSettings,
  grantCredits,
  listProducts,
  reserveFeature,
  settleFeature,
} from '@e-stars/billing'
import { sql } from 'drizzle-orm'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALICE, launchBrowser, startWorld, type World } from './world.ts'

/** The screenshots the README and the issue look at, both widths, taken on every run. */
const docsShots = fileURLToPath(new URL('../../../docs/screenshots', import.meta.url))

let world: World
let context: BrowserContext
let page: Page

const eventually = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 15_000 })

/** A 2×2 PNG: the photo a bot sends with sendPhoto (multipart upload). */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==',
  'base64',
)
const LONG_REASON = `goodwill-${'x'.repeat(240)}`

const pages = [
  ['overview', '/'],
  ['customers', '/customers'],
  ['customer', `/customers/${ALICE}`],
  ['payments', '/payments'],
  ['products', '/products'],
  ['reconciliation', '/reconciliation'],
  ['settings', '/settings'],
  ['audit', '/audit'],
  ['sandbox', '/sandbox'],
] as const

async function bot(method: string, body: Record<string, unknown> | FormData) {
  const token = world.sandbox.bot().token
  const response = await fetch(`${world.sandbox.apiRoot}/bot${token}/${method}`, {
    method: 'POST',
    ...(body instanceof FormData
      ? { body }
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  })
  const json = (await response.json()) as { ok: boolean; result: unknown; description?: string }
  if (!json.ok) throw new Error(json.description)
  return json.result
}

beforeAll(async () => {
  mkdirSync(docsShots, { recursive: true })
  world = await startWorld()
  const db = world.database.db
  const projectId = world.projectId
  // Big numbers on the charts: the y axis must show "1,200,000" whole.
  await grantCredits(db, {
    projectId,
    telegramUserId: ALICE,
    amount: 1_500_000,
    reason: LONG_REASON,
    source: 'promo',
    actor: 'system',
    idempotencyKey: randomUUID(),
  })
  await consume(db, {
    projectId,
    telegramUserId: ALICE,
    amount: 1_200_000,
    reason: LONG_REASON,
    actor: 'api-key:demo',
    idempotencyKey: randomUUID(),
  })
  // A payment recorded last but paid three days ago (a reconciliation find, a seeded history):
  // the Paid column decides the order, not the arrival.
  const late = await world.buy(ALICE, 'pack_s')
  await db.execute(
    sql`update payments set paid_at = now() - interval '3 days' where telegram_payment_charge_id = ${late}`,
  )
  context = await launchBrowser()
  page = await context.newPage()
  await page.goto(`${world.server.url}/login`)
  await page.getByLabel('Email').fill(world.owner.email)
  await page.getByLabel('Password').fill(world.owner.password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('heading', { name: 'Overview' }).waitFor()
})
afterAll(async () => {
  await context?.close()
  await world?.close()
})

describe('the first hour in the console', () => {
  it('sizes the y axis to its widest label, in the cards’ number format', async () => {
    await page.goto(`${world.server.url}/`)
    await page.locator('.chart .u-axis').first().waitFor()
    const [axis, needed] = await page.evaluate(() => {
      const charts = [...document.querySelectorAll('.chart')]
      const credits = charts.find((c) => c.getAttribute('aria-label')?.startsWith('Credits'))!
      // uPlot's axes are divs sized to the axis: the second is the y axis.
      const y = credits.querySelectorAll<HTMLElement>('.u-axis')[1]!
      const context = document.createElement('canvas').getContext('2d')!
      context.font = '12px system-ui, sans-serif'
      return [y.getBoundingClientRect().width, context.measureText('1,200,000').width]
    })
    expect(axis).toBeGreaterThan(needed + 10)
  })

  it('sorts payments by the Paid column and names products by their titles', async () => {
    await page.goto(`${world.server.url}/payments`)
    const rows = page.getByTestId('payments-table').locator('tbody tr')
    await eventually(() => rows.count()).toBe(3)
    const paid = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-paid-at')!))
    expect(paid).toEqual([...paid].sort().reverse())
    const products = await listProducts(world.database.db, { projectId: world.projectId })
    const cells = await rows.locator('td:nth-child(3)').allTextContents()
    const bought = products.find((p) => cells.includes(p.title))
    expect(bought, cells.join(' | ')).toBeDefined()
    expect(cells).not.toContain(bought!.key)
  })

  it('pages payments by the Paid column at the source: no later page holds a newer payment', async () => {
    // The API itself, one payment a page, as the console's pager walks it (and the CSV export).
    const walked = await page.evaluate(async (projectId) => {
      const get = async (path: string, input: unknown) => {
        const response = await fetch(
          `/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`,
          { credentials: 'include' },
        )
        return ((await response.json()) as { result: { data: unknown } }).result.data
      }
      const paid: string[] = []
      let cursor: string | null = null
      for (let i = 0; i < 10; i++) {
        const p = (await get('operator.payments.list', { projectId, limit: 1, cursor })) as {
          payments: Array<{ paidAt: string }>
          nextCursor: string | null
        }
        paid.push(...p.payments.map((x) => x.paidAt))
        cursor = p.nextCursor
        if (!cursor) break
      }
      const csv = (await get('operator.payments.exportCsv', { projectId })) as { csv: string }
      const exported = csv.csv
        .trim()
        .split('\r\n')
        .slice(1)
        .map((line) => line.split(',')[0]!)
      return { paid, exported }
    }, world.projectId)
    expect(walked.paid).toHaveLength(3)
    expect(walked.paid).toEqual([...walked.paid].sort().reverse())
    expect(walked.exported).toEqual(walked.paid)
  })

  it('sets the overage policy on the Settings page, stores it, and counts a shortfall in the Overview', async () => {
    await page.goto(`${world.server.url}/settings`)
    const form = page.getByRole('form', { name: 'Overage policy' })
    await form.waitFor()
    expect(await form.getByRole('radio', { name: /^Cap/ }).isChecked()).toBe(true)
    // One sentence each says what the policy does.
    expect(await form.textContent()).toContain('becomes debt')
    await form.getByRole('radio', { name: /^Debt/ }).check()
    await form.getByRole('button', { name: 'Save policy' }).click()
    await eventually(() => form.getByRole('status').textContent()).toContain(
      'Overage policy saved: Debt.',
    )
    const db = world.database.db
    expect((await getProjectSettings(db, world.projectId)).overagePolicy).toBe('debt')
    await page.reload()
    await eventually(() =>
      page
        .getByRole('form', { name: 'Overage policy' })
        .getByRole('radio', { name: /^Debt/ })
        .isChecked(),
    ).toBe(true)

    // A customer with no credits whose answer used far more than its hold: the rest is debt.
    const reservation = await reserveFeature(db, {
      projectId: world.projectId,
      telegramUserId: 2_000_077,
      feature: 'ai.tokens',
      quantity: 100,
      actor: 'api-key:demo',
      idempotencyKey: randomUUID(),
    })
    await settleFeature(db, {
      projectId: world.projectId,
      reservationId: reservation.reservationId,
      quantity: 100_000,
      actor: 'api-key:demo',
      idempotencyKey: randomUUID(),
    })
    const day = 86_400_000
    const { shortfalls } = await getOverview(db, {
      projectId: world.projectId,
      from: new Date(Date.now() - 30 * day),
      to: new Date(Date.now() + day),
    })
    expect(shortfalls.count).toBeGreaterThan(0)
    expect(shortfalls.debt).toBeGreaterThan(0)
    await page.goto(`${world.server.url}/`)
    const card = page.getByTestId('shortfalls')
    await eventually(() => card.locator('.metric-value').textContent()).toBe(
      shortfalls.count.toLocaleString('en-US'),
    )
    const hint = await card.locator('.muted').textContent()
    expect(hint).toContain(`${shortfalls.credits.toLocaleString('en-US')} credits unpaid`)
    expect(hint).toContain(`${shortfalls.debt.toLocaleString('en-US')} owed as debt`)
    // The same shortfall is a fact on the customer's page, in words.
    await page.goto(`${world.server.url}/customers/2000077`)
    const entry = page.getByTestId('timeline').locator('.entry-text').first()
    await eventually(() => entry.textContent()).toMatch(/credits unpaid .*became debt/)
    expect(await page.getByTestId('debt').textContent()).toBe(
      shortfalls.debt.toLocaleString('en-US'),
    )
  })

  it('shows one not-found page for a missing customer, with no panels and no forms', async () => {
    await page.goto(`${world.server.url}/customers/99999999`)
    await page.getByTestId('customer-not-found').waitFor()
    expect(await page.getByRole('alert').count()).toBe(0)
    expect(await page.getByRole('form', { name: 'Grant or adjust credits' }).count()).toBe(0)
    expect(await page.locator('section.card').count()).toBe(0)
  })

  it('asks in its own dialog before a large grant, and says the amount in words', async () => {
    let browserDialog = false
    page.on('dialog', (d) => {
      browserDialog = true
      void d.dismiss()
    })
    await page.goto(`${world.server.url}/customers/${ALICE}`)
    const form = page.getByRole('form', { name: 'Grant or adjust credits' })
    await form.getByLabel('Credits').fill('2147483648')
    await form.getByLabel('Reason').fill('typo')
    await form.getByRole('button', { name: 'Apply' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.waitFor()
    expect(await dialog.textContent()).toContain(
      'two billion one hundred forty-seven million four hundred eighty-three thousand six hundred forty-eight',
    )
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    await eventually(() => page.getByRole('dialog').count()).toBe(0)
    const texts = await page.getByTestId('timeline').locator('.entry-text').allTextContents()
    expect(texts.some((t) => t.includes('typo'))).toBe(false)
    // Block asks in the same dialog, never the browser's confirm().
    await page.getByRole('button', { name: 'Block' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click()
    expect(browserDialog).toBe(false)
    expect(await page.locator('h1 .badge').count()).toBe(0)
  })

  it('fits every page into 390 px, long reasons wrapped, and takes the screenshots', async () => {
    for (const [width, height] of [
      [1280, 860],
      [390, 844],
    ] as const) {
      await page.setViewportSize({ width, height })
      for (const [name, path] of pages) {
        await page.goto(`${world.server.url}${path}`)
        await page.locator('.page h1').first().waitFor()
        await page.waitForLoadState('networkidle')
        const wide = await page.evaluate(() => document.documentElement.scrollWidth)
        expect(wide, `${name} at ${width} px`).toBeLessThanOrEqual(width)
        // Every list is the one Table: it scrolls inside its card and names its columns.
        const loose = await page.evaluate(
          () =>
            [...document.querySelectorAll<HTMLTableElement>('table:not(.u-legend)')].filter(
              (t) => !t.parentElement?.classList.contains('table-scroll') || !t.tHead,
            ).length,
        )
        expect(loose, `${name}: a table outside the Table component`).toBe(0)
        await page.screenshot({
          path: join(docsShots, `console-${name}-${width}.png`),
          fullPage: true,
        })
      }
    }
    await page.setViewportSize({ width: 1280, height: 860 })
  })

  it('is a little Telegram client: photos, tappable buttons, the newest message in view', async () => {
    for (let i = 1; i <= 14; i++) await bot('sendMessage', { chat_id: ALICE, text: `line ${i}` })
    const upload = new FormData()
    upload.set('chat_id', String(ALICE))
    upload.set('caption', 'a lighthouse at dusk')
    upload.set('photo', new Blob([PNG], { type: 'image/png' }), 'image.png')
    await bot('sendPhoto', upload)
    await bot('sendMessage', {
      chat_id: ALICE,
      text: 'Top up:',
      reply_markup: { inline_keyboard: [[{ text: 'Pack S', callback_data: 'buy:pack_s' }]] },
    })
    await page.goto(`${world.server.url}/sandbox`)
    const chat = page.getByTestId('chat')
    await chat.getByRole('button', { name: 'Pack S' }).waitFor()
    const photo = chat.locator('img[alt="a lighthouse at dusk"]')
    await eventually(() => photo.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(2)
    await chat.getByRole('button', { name: 'Pack S' }).click()
    await eventually(() => page.getByRole('status').first().textContent()).toContain(
      'Pressed “Pack S”',
    )
    await page.getByLabel('Message').fill('hello bot')
    await page.getByRole('button', { name: 'Send' }).click()
    await chat.getByText('hello bot').waitFor()
    await eventually(() =>
      chat.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight),
    ).toBeLessThan(4)
    await page.screenshot({
      path: join(docsShots, 'console-sandbox-chat-1280.png'),
      fullPage: true,
    })
  })

  it('offers no Telegram-side refund for a charge Telegram already refunded', async () => {
    const [refundedCharge, paidCharge] = world.charges as [string, string, string]
    world.sandbox.refundPayment(refundedCharge)
    await page.goto(`${world.server.url}/sandbox`)
    const button = (charge: string) =>
      page
        .locator('tr', { hasText: charge })
        .first()
        .getByRole('button', { name: 'Refund (Telegram side)' })
    await eventually(() => button(paidCharge).count()).toBe(1)
    expect(await button(refundedCharge).count()).toBe(0)
  })
})
