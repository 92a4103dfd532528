import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  createSecrets,
  generateSecretKey,
  seedDemoFeatures,
  setBotToken,
  setRelaySettings,
} from '@e-stars/billing'
import type { Database } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { createSandbox, miniAppHost, type Sandbox } from '@e-stars/sandbox'
import { parseEnv, type RunningServer, startServer } from '@e-stars/server'
import { createBotApi } from '@e-stars/telegram'
import { type BrowserContext, chromium } from 'playwright-core'

export const ALICE = 2_000_001
export const BOB = 2_000_002
export const miniAppDist = fileURLToPath(new URL('../dist', import.meta.url))
export const screenshotDir = fileURLToPath(new URL('../test-results', import.meta.url))

const silent = { info() {}, warn() {}, error() {} }

export interface World {
  sandbox: Sandbox
  database: Database
  server: RunningServer
  projectId: string
  /** The sandbox's Telegram host page with the Mini App inside, for a user and a theme. */
  hostUrl(userId: number, theme?: 'light' | 'dark'): string
  close(): Promise<void>
}

/**
 * The product as `pnpm start` runs it, on loopback: the sandbox Telegram with the Mini App host
 * page, the server serving the built Mini App at /miniapp/, and Telegram's webhook pointed at the
 * server's relay, which answers pre-checkout and records payments and refunds (no bot needed).
 */
export async function startWorld(): Promise<World> {
  if (!existsSync(join(miniAppDist, 'index.html')))
    throw new Error('Build the Mini App first: pnpm --filter @e-stars/miniapp build')
  let serverUrl = ''
  const sandbox = await createSandbox({
    users: [
      { id: ALICE, firstName: 'Alice', username: 'alice' },
      { id: BOB, firstName: 'Bob', username: 'bob' },
    ],
    extensions: [miniAppHost({ appUrl: () => `${serverUrl}/miniapp/` })],
  })
  const secretKey = generateSecretKey()
  const database = await createTestDatabase()
  const server = await startServer(
    parseEnv({
      PORT: '0',
      SECRET_KEY: secretKey,
      TELEGRAM_API_ROOT: sandbox.apiRoot,
      SANDBOX_URL: sandbox.url,
      MINIAPP_DIR: miniAppDist,
      RECONCILE_INTERVAL_SECONDS: '0',
      RELAY_FORWARD_INTERVAL_MS: '60000',
      DEMO_DATA: 'off',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'estars-miniapp-e2e-')),
    }),
    silent,
    { database },
  )
  serverUrl = server.url
  const db = database.db
  const projectId = server.demoProjectId!
  const bot = sandbox.bot()
  await setBotToken(db, { projectId, botToken: bot.token, secrets: createSecrets(secretKey) })
  await seedDemoFeatures(db, projectId)
  const { webhookSecret } = await setRelaySettings(db, { projectId, relayTarget: null })
  await createBotApi({ token: bot.token, apiRoot: sandbox.apiRoot }).call('setWebhook', {
    url: `${server.url}/telegram/${projectId}`,
    secret_token: webhookSecret,
    allowed_updates: ['message', 'pre_checkout_query'],
  })
  return {
    sandbox,
    database,
    server,
    projectId,
    hostUrl: (userId, theme = 'light') =>
      `${sandbox.url}/miniapp?project=${projectId}&user=${userId}&theme=${theme}`,
    async close() {
      await server.close()
      await sandbox.close()
    },
  }
}

/** Headless Chromium from the distribution (never a downloaded browser) with a fresh profile. */
export async function launchBrowser(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'estars-chromium-')), {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 900, height: 860 },
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
