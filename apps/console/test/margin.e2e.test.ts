import { randomUUID } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  CostCapReached,
  consumeFeature,
  getMarginSettings,
  marginBreakdown,
  marginCsv,
  marginSummary,
  unprofitableCustomers,
} from '@e-stars/billing'
import { formatNumber } from '@e-stars/billing/format'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALICE, BOB, launchBrowser, screenshotDir, startWorld, type World } from './world.ts'

let world: World
let owner: BrowserContext
let page: Page

/** Dollars to the micro-dollar, written out independently of the page's own formatter. */
const usd = (micros: number) =>
  `${micros < 0 ? '−\u2060' : ''}$${formatNumber(Math.floor(Math.abs(micros) / 1e6))}.${String(Math.abs(micros) % 1e6).padStart(6, '0')}`

const DAY_MS = 86_400_000
/** The page asks for the last 30 days by default; the figures hold until the controls' test writes. */
const period = (days = 30) => ({ from: new Date(Date.now() - days * DAY_MS), to: new Date() })
/** The page's cost figure, once it shows `micros`. */
const costShows = (micros: number) =>
  expect
    .poll(() => page.getByTestId('margin-cost').textContent(), { timeout: 15_000 })
    .toBe(usd(micros))

beforeAll(async () => {
  mkdirSync(screenshotDir, { recursive: true })
  world = await startWorld()
  const act = (telegramUserId: number, feature: string, quantity: number, costMicros: number) =>
    consumeFeature(world.database.db, {
      projectId: world.projectId,
      telegramUserId,
      feature,
      quantity,
      idempotencyKey: randomUUID(),
      actor: 'api-key:test',
      usage: {
        provider: 'openai',
        model: feature === 'image' ? 'gpt-image-1' : 'gpt-4o-mini',
        inputTokens: quantity * 10,
        outputTokens: quantity,
        costMicros,
      },
    })
  // Alice: images inside the free allowance (no revenue) that cost the operator money.
  await act(ALICE, 'image', 3, 1_250_000)
  // Bob: paid tokens that cost little.
  await act(BOB, 'ai.tokens', 4_000, 1_337)
  owner = await launchBrowser()
  page = await owner.newPage()
  await page.goto(`${world.server.url}/login`)
  await page.getByLabel('Email').fill(world.owner.email)
  await page.getByLabel('Password').fill(world.owner.password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('heading', { name: 'Overview' }).waitFor()
}, 180_000)
afterAll(async () => {
  await owner?.close()
  await world?.close()
})

describe('the Margin page in a real browser', () => {
  it('shows the API’s figures, draws the chart and the tables (1280 px)', async () => {
    await page.getByRole('link', { name: 'Margin' }).click()
    await page.getByRole('heading', { name: 'Margin' }).waitFor()
    const summary = await marginSummary(world.database.db, {
      projectId: world.projectId,
      ...period(),
    })
    expect(summary.costMicros).toBe(1_251_337)
    await expect
      .poll(() => page.getByTestId('margin-cost').textContent(), { timeout: 15_000 })
      .toBe(usd(summary.costMicros))
    expect(await page.getByTestId('margin-revenue').textContent()).toBe(usd(summary.revenueMicros))
    expect(await page.getByTestId('margin-margin').textContent()).toBe(usd(summary.marginMicros))
    expect(await page.getByTestId('margin-free-cost').textContent()).toBe(
      usd(summary.freeCostMicros),
    )
    // Bob's tokens fall in the free daily allowance: their cost earned nothing.
    expect(summary.freeCostMicros).toBe(1_337)
    await page.getByTestId('rate-assumption').waitFor()

    // The chart: one group per day the API returns, with bars of non-zero height for the cost.
    const days = await marginBreakdown(world.database.db, {
      projectId: world.projectId,
      ...period(),
      by: 'day',
    })
    await page.getByTestId('margin-chart').waitFor()
    expect(await page.locator('[data-testid=margin-chart] g[data-day]').count()).toBe(days.length)
    const costBar = page.locator('[data-testid=margin-chart] rect[data-series=cost]').first()
    expect(Number(await costBar.getAttribute('height'))).toBeGreaterThan(0)
    expect((await costBar.boundingBox())?.height ?? 0).toBeGreaterThan(10)

    const byFeature = await marginBreakdown(world.database.db, {
      projectId: world.projectId,
      ...period(),
      by: 'feature',
    })
    for (const row of byFeature) {
      const tr = page.locator(`[data-testid=margin-breakdown] tr[data-key="${row.key}"]`)
      expect(await tr.locator('[data-field=revenue]').textContent()).toBe(usd(row.revenueMicros))
      expect(await tr.locator('[data-field=cost]').textContent()).toBe(usd(row.costMicros))
      expect(await tr.locator('[data-field=margin]').textContent()).toBe(usd(row.marginMicros))
    }
    expect(byFeature.map((r) => r.key).sort()).toEqual(['ai.tokens', 'image', 'none'])

    const losing = await unprofitableCustomers(world.database.db, {
      projectId: world.projectId,
      ...period(),
    })
    expect(losing.map((r) => r.key)).toContain(String(ALICE))
    await page
      .locator(`[data-testid=margin-unprofitable] tr[data-key="${ALICE}"]`)
      .waitFor({ timeout: 15_000 })
    await page.screenshot({ path: join(screenshotDir, 'margin-1280.png'), fullPage: true })
  }, 120_000)

  it('downloads the API’s CSV for the chosen breakdown', async () => {
    await page.getByTestId('margin-by').selectOption('model')
    await page.locator('[data-testid=margin-breakdown] tr[data-key="openai/gpt-image-1"]').waitFor()
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('margin-csv').click(),
    ])
    expect(download.suggestedFilename()).toBe('margin-by-model.csv')
    const saved = join(screenshotDir, 'margin-by-model.csv')
    await download.saveAs(saved)
    const expected = marginCsv(
      'model',
      await marginBreakdown(world.database.db, {
        projectId: world.projectId,
        ...period(),
        by: 'model',
        limit: 100_000,
      }),
    )
    expect(readFileSync(saved, 'utf8')).toBe(expected)
    expect(expected).toContain('gpt-image-1')
  }, 60_000)

  it('the period picker: 7, 90 and 30 days, each with the API’s figures for that period', async () => {
    for (const days of [7, 90, 30] as const) {
      await page
        .getByTestId('margin-period')
        .getByRole('button', { name: `${days} days` })
        .click()
      await expect
        .poll(() => page.url())
        .toMatch(days === 30 ? /\/margin$/ : new RegExp(`days=${days}$`))
      const summary = await marginSummary(world.database.db, {
        projectId: world.projectId,
        ...period(days),
      })
      await costShows(summary.costMicros)
      expect(await page.getByTestId('margin-revenue').textContent()).toBe(
        usd(summary.revenueMicros),
      )
      expect(
        await page
          .getByTestId('margin-period')
          .getByRole('button', { name: `${days} days` })
          .getAttribute('aria-pressed'),
      ).toBe('true')
    }
  }, 60_000)

  it('an owner sets a price and adds a cap through the forms; the figures follow', async () => {
    const db = world.database.db
    const before = await marginSummary(db, { projectId: world.projectId, ...period() })
    // Refused in words, nothing written: a price that is not a number of dollars.
    const prices = page.getByTestId('price-form')
    await prices.getByLabel('Provider').fill('openai')
    await prices.getByLabel('Model').fill('gpt-4o-mini')
    await prices.getByLabel('Input, $ per million tokens').fill('-2')
    await prices.getByLabel('Output, $ per million tokens').fill('8')
    await prices.getByRole('button', { name: 'Save price' }).click()
    await expect
      .poll(() => page.getByTestId('price-error').textContent())
      .toBe(
        'The input price must be a number of dollars per million tokens, 0 or more (for example 0.15).',
      )
    // 2 USD per million input tokens, 8 per million output.
    await prices.getByLabel('Input, $ per million tokens').fill('2')
    await prices.getByRole('button', { name: 'Save price' }).click()
    await page.getByTestId('price-done').waitFor()
    await page.locator('[data-testid=price-book] tr[data-key="openai/gpt-4o-mini"]').waitFor()
    // A call with tokens only: the price book prices it, 10,000 × 2 + 5,000 × 8 = 60,000 micro-USD.
    const call = () =>
      consumeFeature(db, {
        projectId: world.projectId,
        telegramUserId: BOB,
        feature: 'ai.tokens',
        quantity: 100,
        idempotencyKey: randomUUID(),
        actor: 'api-key:test',
        usage: {
          provider: 'openai',
          model: 'gpt-4o-mini',
          inputTokens: 10_000,
          outputTokens: 5_000,
        },
      })
    await call()
    await page.reload()
    await costShows(before.costMicros + 60_000)

    // A cap of 0 is refused in words; an unknown customer too (the server's NOT_FOUND, in words).
    const caps = page.getByTestId('cap-form')
    await caps.getByLabel('Cap, $ of cost').fill('0')
    await caps.getByRole('button', { name: 'Add cap' }).click()
    await expect
      .poll(() => page.getByTestId('cap-error').textContent())
      .toBe('The cap must be a number of dollars above 0 (for example 0.50).')
    await caps.getByLabel('Applies to').selectOption('customer')
    await caps.getByLabel('Telegram user id').fill('999999')
    await caps.getByLabel('Cap, $ of cost').fill('0.10')
    await caps.getByRole('button', { name: 'Add cap' }).click()
    await expect
      .poll(() => page.getByTestId('cap-error').textContent())
      .toBe('No customer with that Telegram user id in this project yet.')
    // At most 0.10 USD of cost per customer per day: Bob has spent 0.061337 today.
    await caps.getByLabel('Applies to').selectOption('project')
    await caps.getByLabel('Cap, $ of cost').fill('0.10')
    await caps.getByRole('button', { name: 'Add cap' }).click()
    await page.getByTestId('cap-done').waitFor()
    await expect
      .poll(() => page.locator('[data-testid=cost-caps] [data-field=cap]').allTextContents())
      .toEqual([usd(100_000)])
    // The next 0.06 USD call would pass it: refused, and the cost figure does not move.
    await expect(call()).rejects.toBeInstanceOf(CostCapReached)
    await page.reload()
    await costShows(before.costMicros + 60_000)
    // Removing the cap lets the call through again.
    await page.getByRole('button', { name: /Remove the cap of/ }).click()
    await page.getByTestId('cap-remove-done').waitFor()
    await expect
      .poll(() => page.locator('[data-testid=cost-caps] [data-field=cap]').count())
      .toBe(0)
    await call()
    await page.reload()
    await costShows(before.costMicros + 120_000)
    await page.screenshot({ path: join(screenshotDir, 'margin-controls-1280.png'), fullPage: true })
  }, 120_000)

  it('the margin settings save, with bad input refused in words', async () => {
    const settings = page.getByTestId('margin-settings')
    await settings.getByLabel(/Alert when/).fill('150')
    await settings.getByRole('button', { name: 'Save settings' }).click()
    await expect
      .poll(() => page.getByTestId('settings-error').textContent())
      .toBe('The alert threshold must be a whole percentage from −100 to 100, or empty.')
    await settings.getByLabel(/Alert when/).fill('20')
    await settings.getByLabel('USD per Star').fill('0.012')
    await settings.getByLabel(/model with no price/).selectOption('refuse')
    await settings.getByRole('button', { name: 'Save settings' }).click()
    await page.getByTestId('settings-done').waitFor()
    expect(await getMarginSettings(world.database.db, world.projectId)).toMatchObject({
      usdPerStarMicros: 12_000,
      unpricedModelPolicy: 'refuse',
      marginAlertPercent: 20,
    })
    await expect.poll(() => page.getByTestId('rate-assumption').count()).toBe(0)
    // A feature's margin floor: 101 % refused in words, 30 % saved and shown.
    const floors = page.getByTestId('floor-form')
    await floors.getByLabel('Feature').selectOption('ai.tokens')
    await floors.getByLabel('Floor (%)').fill('101')
    await floors.getByRole('button', { name: 'Save floor' }).click()
    await expect
      .poll(() => page.getByTestId('floor-error').textContent())
      .toBe('The margin floor must be a whole percentage from 0 to 100, or empty.')
    await floors.getByLabel('Floor (%)').fill('30')
    await floors.getByRole('button', { name: 'Save floor' }).click()
    await page.getByTestId('floor-done').waitFor()
    await expect
      .poll(() =>
        page.locator('[data-testid=feature-floors] tr[data-key="ai.tokens"] td.num').textContent(),
      )
      .toBe('30 %')
  }, 60_000)

  it('a viewer sees the controls read-only', async () => {
    const viewer = await launchBrowser()
    try {
      const p = await viewer.newPage()
      await p.goto(`${world.server.url}/login`)
      await p.getByLabel('Email').fill(world.viewer.email)
      await p.getByLabel('Password').fill(world.viewer.password)
      await p.getByRole('button', { name: 'Log in' }).click()
      await p.getByRole('heading', { name: 'Overview' }).waitFor()
      await p.goto(`${world.server.url}/margin`)
      await p.locator('[data-testid=price-book] tr[data-key="openai/gpt-4o-mini"]').waitFor()
      await p.getByText('Only an owner can change the price book.').waitFor()
      await p.getByText('Only an owner can change the caps.').waitFor()
      expect(await p.getByTestId('price-form').count()).toBe(0)
      expect(await p.getByTestId('cap-form').count()).toBe(0)
      expect(await p.getByRole('button', { name: /^Remove/ }).count()).toBe(0)
      expect(await p.getByTestId('margin-settings').getByLabel('USD per Star').isDisabled()).toBe(
        true,
      )
    } finally {
      await viewer.close()
    }
  }, 60_000)

  it('fits a phone (390 px): no sideways scroll, the chart still drawn', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.reload()
    await page.getByTestId('margin-chart').waitFor()
    await page.getByTestId('price-form').waitFor()
    await page.getByTestId('cap-form').waitFor()
    const box = await page.getByTestId('margin-chart').boundingBox()
    expect(box?.width ?? 0).toBeGreaterThan(200)
    expect(box?.width ?? 999).toBeLessThanOrEqual(390)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await page.screenshot({ path: join(screenshotDir, 'margin-390.png'), fullPage: true })
  }, 60_000)
})
