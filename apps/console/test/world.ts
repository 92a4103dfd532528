import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  consume,
  createInvoice,
  createOperator,
  createSecrets,
  generateSecretKey,
  grantCredits,
  listProducts,
  precheck,
  recordPayment,
  seedDemoFeatures,
  setBotToken,
} from '@e-stars/billing'
import type { Database } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { parseEnv, type RunningServer, startServer } from '@e-stars/server'
import { type BotApi, createBotApi, parsePaymentUpdate } from '@e-stars/telegram'
import { type BrowserContext, chromium } from 'playwright-core'

export const ALICE = 2_000_001
export const BOB = 2_000_002
export const consoleDist = fileURLToPath(new URL('../dist', import.meta.url))
export const screenshotDir = fileURLToPath(new URL('../test-results', import.meta.url))

const silent = { info() {}, warn() {}, error() {} }

export interface World {
  sandbox: Sandbox
  database: Database
  server: RunningServer
  botApi: BotApi
  projectId: string
  owner: { email: string; password: string }
  viewer: { email: string; password: string }
  /** Charge ids of the purchases made through the sandbox, oldest first. */
  charges: string[]
  /** A purchase through the sandbox and the bot; returns the charge id. */
  buy(userId: number, productKey: string): Promise<string>
  close(): Promise<void>
}

/**
 * The whole product on loopback: the sandbox Telegram, the server serving the built console,
 * a minimal bot answering pre-checkout and recording payments, and a little history.
 */
export async function startWorld(): Promise<World> {
  if (!existsSync(join(consoleDist, 'index.html')))
    throw new Error('Build the console first: pnpm --filter @e-stars/console build')
  const sandbox = await createSandbox({
    users: [
      { id: ALICE, firstName: 'Alice', lastName: 'Liddell', username: 'alice' },
      { id: BOB, firstName: 'Bob', username: 'bobby' },
    ],
  })
  const secretKey = generateSecretKey()
  const secrets = createSecrets(secretKey)
  const database = await createTestDatabase()
  const server = await startServer(
    parseEnv({
      PORT: '0',
      SECRET_KEY: secretKey,
      TELEGRAM_API_ROOT: sandbox.apiRoot,
      SANDBOX_URL: sandbox.url,
      SANDBOX_TOKEN: sandbox.controlToken,
      CONSOLE_DIR: consoleDist,
      RECONCILE_INTERVAL_SECONDS: '0',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'estars-e2e-')),
    }),
    silent,
    { database },
  )
  const db = database.db
  const projectId = server.demoProjectId!
  const owner = server.demoOperator!
  const viewer = { email: 'viewer@e-stars.local', password: 'viewer password' }
  await createOperator(db, { ...viewer, projectId, role: 'viewer' })
  await setBotToken(db, { projectId, botToken: sandbox.bot().token, secrets })
  await seedDemoFeatures(db, projectId)
  const botApi = createBotApi({ token: sandbox.bot().token, apiRoot: sandbox.apiRoot })

  // The bot: approves pre-checkout through the engine and records each payment once.
  let stopped = false
  let offset = 0
  const recorded = new Set<string>()
  const loop = (async () => {
    while (!stopped) {
      const updates = (await botApi
        .call('getUpdates', { offset, timeout: 1 })
        .catch(() => [])) as Array<{ update_id: number }>
      for (const update of updates) {
        offset = update.update_id + 1
        const event = parsePaymentUpdate(update)
        if (event?.kind === 'pre_checkout_query') {
          const verdict = await precheck(db, { projectId, query: event.query, secrets })
          await botApi.answerPreCheckoutQuery({
            pre_checkout_query_id: event.query.id,
            ok: verdict.ok,
            ...(verdict.ok ? {} : { error_message: verdict.errorMessage }),
          })
        } else if (event?.kind === 'successful_payment') {
          await recordPayment(db, {
            projectId,
            payment: event.payment,
            from: event.from,
            secrets,
            via: 'api',
          })
          recorded.add(event.payment.telegram_payment_charge_id)
        }
      }
    }
  })()

  const products = await listProducts(db, { projectId })
  const pack = products.find((p) => p.kind === 'pack' && p.credits >= 500) ?? products[0]!
  const charges: string[] = []
  const buy = async (userId: number, productKey: string) => {
    const invoice = await createInvoice(db, {
      projectId,
      telegramUserId: userId,
      productKey,
      secrets,
    })
    sandbox.sendText(userId, '/buy')
    const message = await botApi.sendInvoice(invoice.sendInvoice!)
    const paid = await sandbox.payInvoice(userId, { messageId: message.message_id })
    if (paid.status !== 'paid') throw new Error(`payment ${paid.status}`)
    for (let i = 0; i < 200 && !recorded.has(paid.chargeId); i++)
      await new Promise((r) => setTimeout(r, 25))
    if (!recorded.has(paid.chargeId)) throw new Error('the bot did not record the payment')
    charges.push(paid.chargeId)
    return paid.chargeId
  }
  await buy(ALICE, pack.key)
  await buy(BOB, pack.key)
  const use = (telegramUserId: number, amount: number, tokens: number) =>
    consume(db, {
      projectId,
      telegramUserId,
      amount,
      reason: 'AI answer',
      actor: 'api-key:demo',
      idempotencyKey: randomUUID(),
      metadata: { tokens },
    })
  await use(ALICE, 120, 12_000)
  await use(BOB, 40, 4_000)
  await grantCredits(db, {
    projectId,
    telegramUserId: BOB,
    amount: 25,
    reason: 'Welcome bonus',
    source: 'promo',
    actor: 'system',
    idempotencyKey: randomUUID(),
  })
  for (let i = 0; i < 30; i++) {
    await grantCredits(db, {
      projectId,
      telegramUserId: 3_000_000 + i,
      amount: 10 + i,
      reason: 'Free trial',
      source: 'free_allowance',
      actor: 'system',
      idempotencyKey: randomUUID(),
      profile: { firstName: `Trial ${i}`, username: `trial_${i}` },
    })
  }
  return {
    sandbox,
    database,
    server,
    botApi,
    projectId,
    owner,
    viewer,
    charges,
    buy,
    async close() {
      stopped = true
      await loop
      await server.close()
      await sandbox.close()
    },
  }
}

/**
 * Headless Chromium from the distribution (never a downloaded browser) with a fresh profile:
 * one context is one browser user with its own cookies.
 */
export async function launchBrowser(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'estars-chromium-')), {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
