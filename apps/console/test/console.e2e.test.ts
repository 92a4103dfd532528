import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALICE, BOB, launchBrowser, screenshotDir, startWorld, type World } from './world.ts'

let world: World
let owner: BrowserContext
let page: Page

/** Waits for the page to catch up (the live feed polls every 5 s). */
const eventually = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 15_000 })

/** A page whole; a dialog as the operator sees it (a modal's backdrop covers the viewport only). */
const shot = (name: string, fullPage = true) =>
  page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage })

async function login(context: BrowserContext, who: { email: string; password: string }) {
  const p = await context.newPage()
  await p.goto(`${world.server.url}/login`)
  await p.getByLabel('Email').fill(who.email)
  await p.getByLabel('Password').fill(who.password)
  await p.getByRole('button', { name: 'Log in' }).click()
  await p.getByRole('heading', { name: 'Overview' }).waitFor()
  return p
}

/** The big number under a metric label on the customer page. */
const metric = (label: string) =>
  page
    .locator('.metric', { has: page.locator('.metric-label', { hasText: label }) })
    .locator('.metric-value')

beforeAll(async () => {
  mkdirSync(screenshotDir, { recursive: true })
  world = await startWorld()
  owner = await launchBrowser()
})
afterAll(async () => {
  await owner?.close()
  await world?.close()
})

describe('the operator console in a real browser', () => {
  it('refuses a wrong password, then logs in and shows the overview', async () => {
    page = await owner.newPage()
    await page.goto(`${world.server.url}/customers`)
    // Not logged in: the console sends the visitor to the login page.
    await page.getByRole('heading', { name: 'e-Stars console' }).waitFor()
    await page.getByLabel('Email').fill(world.owner.email)
    await page.getByLabel('Password').fill('not the password')
    await page.getByRole('button', { name: 'Log in' }).click()
    await eventually(() => page.getByRole('alert').textContent()).toContain(
      'Wrong email or password',
    )
    await page.close()

    page = await login(owner, world.owner)
    const cookies = await owner.cookies()
    const session = cookies.find((c) => c.name === 'estars_session')
    expect(session?.httpOnly).toBe(true)
    expect(session?.sameSite).toBe('Strict')
    await page.locator('.metric', { hasText: 'Stars earned' }).waitFor()
    await expect
      .poll(() =>
        page
          .locator('.metric', { hasText: 'Paying customers' })
          .locator('.metric-value')
          .textContent(),
      )
      .toBe('2')
    await page.locator('.chart canvas').first().waitFor()
    await shot('overview')
  })

  it('searches a customer server-side and opens the timeline in plain words', async () => {
    await page.getByRole('link', { name: 'Customers' }).click()
    await page.getByRole('heading', { name: 'Customers' }).waitFor()
    await page.locator('table.customers tbody tr').first().waitFor()
    expect(await page.locator('table.customers tbody tr').count()).toBe(25)
    await page.getByRole('button', { name: 'Next →' }).click()
    await eventually(() => page.locator('table.customers tbody tr').count()).toBe(7)
    await page.getByLabel('Search customers').fill('ali')
    await page.getByRole('button', { name: 'Search' }).click()
    await eventually(() => page.locator('table.customers tbody tr').count()).toBe(1)
    await shot('customers')
    await page.getByRole('link', { name: 'Alice Liddell' }).click()
    await page.getByRole('heading', { name: /Alice Liddell/ }).waitFor()
    const timeline = page.getByTestId('timeline')
    await timeline.waitFor()
    const texts = await timeline.locator('.entry-text').allTextContents()
    expect(texts[0]).toBe('\u2212120 credits: AI answer, 12,000 tokens')
    expect(texts[1]).toMatch(new RegExp(`^\\+\\d+: .+, payment ${world.charges[0]}$`))
    await shot('customer')
  })

  it('grants credits with a reason and shows them at once', async () => {
    const before = Number((await metric('Available').textContent())!.replace(/,/g, ''))
    const form = page.getByRole('form', { name: 'Grant or adjust credits' })
    await form.getByLabel('Credits').fill('50')
    await form.getByLabel('Reason').fill('goodwill for a slow answer')
    await form.getByRole('button', { name: 'Apply' }).click()
    await eventually(() => form.getByRole('status').textContent()).toContain('Granted 50 credits')
    await expect
      .poll(async () => Number((await metric('Available').textContent())!.replace(/,/g, '')))
      .toBe(before + 50)
    await expect
      .poll(() => page.getByTestId('timeline').locator('.entry-text').first().textContent())
      .toBe('+50: goodwill for a slow answer (granted by demo)')
  })

  it('refunds a payment through Telegram and shows the revocation in balance and timeline', async () => {
    const before = Number((await metric('Available').textContent())!.replace(/,/g, ''))
    const row = page.getByTestId('payments').locator('tr', { hasText: world.charges[0]! })
    await row.getByRole('button', { name: 'Refund' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByLabel('Reason').fill('customer asked')
    await shot('refund-dialog', false)
    await dialog.getByRole('button', { name: 'Refund' }).click()
    await eventually(() => dialog.getByRole('status').textContent()).toContain('Telegram refunded')
    await dialog.getByRole('button', { name: 'Close' }).click()
    await expect.poll(() => row.locator('.badge').first().textContent()).toBe('refunded')
    const after = Number((await metric('Available').textContent())!.replace(/,/g, ''))
    expect(after).toBeLessThan(before)
    const first = await page.getByTestId('timeline').locator('.entry-text').first().textContent()
    expect(first).toMatch(
      /^\u2212[\d,]+ revoked(, [\d,]+ became debt)?: refund by demo, customer asked/,
    )
    // Telegram really refunded it: its ledger has the refund row.
    const ledger = world.sandbox.starTransactions()
    expect(ledger.some((t) => t.id === world.charges[0] && t.receiver)).toBe(true)
  })

  it('blocks and unblocks a customer, and the bot is refused meanwhile', async () => {
    await page.goto(`${world.server.url}/customers/${BOB}`)
    await page.getByRole('heading', { name: /Bob/ }).waitFor()
    await page.getByRole('button', { name: 'Block' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Block' }).click()
    await page.locator('h1 .badge', { hasText: 'blocked' }).waitFor()
    const { consume, CustomerBlocked } = await import('@e-stars/billing')
    await expect(
      consume(world.database.db, {
        projectId: world.projectId,
        telegramUserId: BOB,
        amount: 1,
        reason: 'AI answer',
        actor: 'test',
        idempotencyKey: crypto.randomUUID(),
      }),
    ).rejects.toBeInstanceOf(CustomerBlocked)
    await page.getByRole('button', { name: 'Unblock' }).click()
    await eventually(() => page.locator('h1 .badge').count()).toBe(0)
  })

  it('grants access to a gated feature by hand, shows quotas, and revokes the access', async () => {
    await page
      .getByRole('cell', { name: /AI tokens/ })
      .first()
      .waitFor()
    const access = page.getByRole('form', { name: 'Grant access' })
    await access.getByLabel('Feature').selectOption('pro')
    await access.getByLabel('Days (empty = life)').fill('30')
    await access.getByRole('button', { name: 'Grant access' }).click()
    await eventually(() =>
      page.getByRole('status').filter({ hasText: 'Access until' }).count(),
    ).toBe(1)
    const entitlement = page.locator('li', { hasText: 'pro' }).filter({ hasText: '(operator)' })
    await entitlement.waitFor()
    await entitlement.getByRole('button', { name: 'Revoke' }).click()
    const ask = page.getByRole('dialog')
    await ask.getByLabel('Reason').fill('granted by mistake')
    await ask.getByRole('button', { name: 'Revoke' }).click()
    await eventually(() => page.getByText('No entitlements in force.').count()).toBe(1)
  })

  it('creates an API key and shows it exactly once', async () => {
    await page.getByRole('link', { name: 'Settings' }).click()
    await page.getByRole('heading', { name: 'Settings' }).waitFor()
    await page.getByLabel('Key name').fill('production bot')
    await page.getByRole('button', { name: 'Create key' }).click()
    const shown = page.getByTestId('new-key')
    await shown.waitFor()
    const key = (await shown.locator('code').textContent())!
    expect(key).toMatch(/^esk_[\w-]{32}$/)
    await eventually(() => page.getByTestId('api-keys').textContent()).toContain('production bot')
    expect(await page.getByTestId('api-keys').textContent()).not.toContain(key)
    // The key works for the bot…
    const whoami = await fetch(`${world.server.url}/trpc/project.whoami`, {
      headers: { authorization: `Bearer ${key}` },
    })
    expect(whoami.status).toBe(200)
    await page.getByTestId('relay-status').waitFor()
    await shot('settings')
    // …and after a reload it is gone from the page for good.
    await page.reload()
    await page.getByTestId('api-keys').waitFor()
    expect(await page.content()).not.toContain(key)
  })

  it('shows payments, products, reconciliation, the audit log and the sandbox', async () => {
    await page.getByRole('link', { name: 'Payments' }).click()
    await page.getByTestId('payments-table').waitFor()
    expect(await page.getByTestId('payments-table').locator('tbody tr').count()).toBe(2)
    await shot('payments')
    await page.getByRole('link', { name: 'Products' }).click()
    await page.getByRole('heading', { name: 'Products and features' }).waitFor()
    await page.locator('td.mono', { hasText: 'pack_m' }).waitFor()
    await shot('products')
    await page.getByRole('link', { name: 'Reconciliation' }).click()
    await page.getByRole('button', { name: 'Run now' }).click()
    await eventually(() => page.getByRole('status').first().textContent()).toContain('Run finished')
    await shot('reconciliation')
    await page.getByRole('link', { name: 'Audit log' }).click()
    const audit = page.getByTestId('audit')
    await audit.waitFor()
    const actions = await audit.locator('tbody tr td:nth-child(3)').allTextContents()
    expect(actions).toEqual(
      expect.arrayContaining([
        'credits.grant',
        'customer.block',
        'customer.unblock',
        'entitlement.grant',
        'entitlement.revoke',
        'payment.refund',
        'api_key.create',
        'reconciliation.run',
      ]),
    )
    expect(await audit.textContent()).not.toMatch(/esk_[\w-]{32}/)
    await shot('audit')
    await page.getByRole('link', { name: 'Sandbox' }).click()
    await page.locator('.chat li').first().waitFor()
    await shot('sandbox')
  })

  it('keeps the live payments feed current without a reload', async () => {
    await page.getByRole('link', { name: 'Payments' }).click()
    const table = page.getByTestId('payments-table')
    await table.waitFor()
    const start = await table.locator('tbody tr').count()
    const charge = await world.buy(ALICE, 'pack_s')
    await eventually(() => table.locator('tbody tr').count()).toBe(start + 1)
    expect(await table.locator('tbody tr').first().textContent()).toContain(charge)
  })
})

describe('a viewer', () => {
  let viewer: BrowserContext
  beforeAll(async () => {
    viewer = await launchBrowser()
  })
  afterAll(() => viewer?.close())

  it('sees the customer but cannot refund, grant or create keys', async () => {
    const p = await login(viewer, world.viewer)
    await p.goto(`${world.server.url}/customers/${ALICE}`)
    await p.getByTestId('payments').waitFor()
    expect(await p.getByRole('button', { name: 'Refund' }).count()).toBe(0)
    expect(await p.getByRole('form', { name: 'Grant or adjust credits' }).count()).toBe(0)
    expect(await p.getByRole('button', { name: 'Block' }).count()).toBe(0)
    await p.goto(`${world.server.url}/settings`)
    await p.getByTestId('api-keys').waitFor()
    expect(await p.getByRole('button', { name: 'Create key' }).count()).toBe(0)
    // The overage policy is shown with its sentences, but only an owner changes it.
    const policy = p.getByRole('form', { name: 'Overage policy' })
    expect(await policy.getByRole('radio', { name: /Debt/ }).isDisabled()).toBe(true)
    expect(await policy.getByRole('button', { name: 'Save policy' }).count()).toBe(0)
    // Going around the page does not help: the server refuses the viewer's refund.
    const csrf = await p.evaluate(async () => {
      const r = await fetch('/trpc/operator.auth.session', { credentials: 'include' })
      return ((await r.json()) as { result: { data: { csrfToken: string } } }).result.data.csrfToken
    })
    const status = await p.evaluate(
      async ({ projectId, chargeId, csrf }) => {
        const r = await fetch('/trpc/operator.payments.refund', {
          method: 'POST',
          credentials: 'include',
          headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
          body: JSON.stringify({ projectId, telegramPaymentChargeId: chargeId, reason: 'sneaky' }),
        })
        return r.status
      },
      { projectId: world.projectId, chargeId: world.charges[1]!, csrf },
    )
    expect(status).toBe(403)
  })
})

describe('graceful states', () => {
  let context: BrowserContext
  beforeAll(async () => {
    context = await launchBrowser()
  })
  afterAll(() => context?.close())

  it('logs in with the keyboard alone', async () => {
    const p = await context.newPage()
    await p.goto(`${world.server.url}/login`)
    // The email field takes the focus by itself once the page is there.
    await p.locator('input[name=email]:focus').waitFor()
    await p.keyboard.type(world.viewer.email)
    await p.keyboard.press('Tab')
    await p.keyboard.type(world.viewer.password)
    await p.keyboard.press('Enter')
    await p.getByRole('heading', { name: 'Overview' }).waitFor()
    await p.close()
  })

  it('shows an error with a retry when a query fails, and recovers on retry', async () => {
    const p = await context.newPage()
    let failures = 1
    await p.route('**/trpc/operator.overview.get**', (route) => {
      if (failures-- > 0)
        return route.fulfill({ status: 500, contentType: 'text/plain', body: 'boom' })
      return route.fallback()
    })
    await p.goto(`${world.server.url}/`)
    const alert = p.getByRole('alert')
    await alert.waitFor()
    expect(await alert.textContent()).toContain('Something went wrong')
    await alert.getByRole('button', { name: 'Retry' }).click()
    await p.locator('.metric', { hasText: 'Stars earned' }).waitFor()
    await p.close()
  })

  it('returns to the login page when the session has ended', async () => {
    const p = await context.newPage()
    await p.goto(`${world.server.url}/customers`)
    await p.getByRole('heading', { name: 'Customers' }).waitFor()
    const { operatorSessions } = await import('@e-stars/db')
    await world.database.db.delete(operatorSessions)
    await p.reload()
    await p.getByRole('heading', { name: 'e-Stars console' }).waitFor()
    await p.close()
  })
})
