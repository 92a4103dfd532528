import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { listWebhookEndpoints } from '@e-stars/billing'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, screenshotDir, startWorld, type World } from './world.ts'

let world: World
let owner: BrowserContext
let page: Page

const eventually = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 15_000 })

beforeAll(async () => {
  mkdirSync(screenshotDir, { recursive: true })
  world = await startWorld()
  owner = await launchBrowser()
})
afterAll(async () => {
  await owner?.close()
  await world?.close()
})

describe('the Webhooks page in a real browser', () => {
  it('adds an endpoint (secret shown once), rotates its secret (the new one shown once, the overlap shown)', async () => {
    page = await owner.newPage()
    await page.goto(`${world.server.url}/login`)
    await page.getByLabel('Email').fill(world.owner.email)
    await page.getByLabel('Password').fill(world.owner.password)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    await page.goto(`${world.server.url}/webhooks`)
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor()

    await page.getByLabel('Endpoint URL').fill('https://hooks.example.com/e-stars')
    await page.getByRole('button', { name: 'Add endpoint' }).click()
    const shown = page.getByTestId('webhook-secret')
    await shown.waitFor()
    const first = (await shown.locator('code').textContent())!.trim()
    expect(first).toMatch(/^whsec_/)
    await shown.getByRole('button', { name: 'I stored it' }).click()
    await eventually(() => shown.count()).toBe(0)

    await page.getByRole('button', { name: 'Rotate secret' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate secret' }).click()
    await shown.waitFor()
    const second = (await shown.locator('code').textContent())!.trim()
    expect(second).toMatch(/^whsec_/)
    expect(second).not.toBe(first)
    expect(await shown.textContent()).toMatch(/both this secret and the previous one/)
    await eventually(() => page.getByTestId('webhook-overlap').count()).toBe(1)
    expect(await page.getByTestId('webhook-overlap').textContent()).toMatch(
      /previous secret signs until/,
    )
    await page.screenshot({ path: join(screenshotDir, 'webhooks-rotated.png'), fullPage: true })

    // The server has the one endpoint.
    const [endpoint] = await listWebhookEndpoints(world.database.db, world.projectId)
    expect(endpoint!.url).toBe('https://hooks.example.com/e-stars')

    // Shown once: after a reload neither secret is anywhere on the page.
    await page.reload()
    await page.getByTestId('webhook-endpoints').waitFor()
    const html = await page.content()
    expect(html).not.toContain(first.slice(6))
    expect(html).not.toContain(second.slice(6))
    await eventually(() => page.getByTestId('webhook-overlap').count()).toBe(1)
  })
})
