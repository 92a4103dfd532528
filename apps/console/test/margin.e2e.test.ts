import { randomUUID } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  consumeFeature,
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
/** The page asks for the last 30 days; nothing is written during the test, so the figures hold. */
const period = () => ({ from: new Date(Date.now() - 30 * DAY_MS), to: new Date() })

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

  it('fits a phone (390 px): no sideways scroll, the chart still drawn', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.reload()
    await page.getByTestId('margin-chart').waitFor()
    const box = await page.getByTestId('margin-chart').boundingBox()
    expect(box?.width ?? 0).toBeGreaterThan(200)
    expect(box?.width ?? 999).toBeLessThanOrEqual(390)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await page.screenshot({ path: join(screenshotDir, 'margin-390.png'), fullPage: true })
  }, 60_000)
})
