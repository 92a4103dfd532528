import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEStarsClient } from '@e-stars/api/client'
import {
  createApiKey,
  createSecrets,
  createWebhookEndpoint,
  generateSecretKey,
  seedDemoCatalog,
  setBotToken,
} from '@e-stars/billing'
import { type Database, projects, webhookEndpoints } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { rotateStoredSecrets } from '../src/rotate-secrets.ts'
import { loadSecrets } from '../src/secret-key.ts'
import { type RunningServer, startServer } from '../src/server.ts'
import { runCli } from './spawn-server.ts'

const silent = { info() {}, warn() {}, error() {} }
const OLD_KEY = generateSecretKey()
const NEW_KEY = generateSecretKey()
const BUYER = 2_000_777

let database: Database
let sandbox: Sandbox
let server: RunningServer | null = null

const start = (keys: Record<string, string>) =>
  startServer(
    parseEnv({
      PORT: '0',
      TELEGRAM_API_ROOT: sandbox.apiRoot,
      RECONCILE_INTERVAL_SECONDS: '0',
      ALLOW_PRIVATE_TARGETS: 'on',
      ...keys,
    }),
    silent,
    { database: { ...database, close: async () => {} } },
  )

beforeAll(async () => {
  database = await createTestDatabase()
  sandbox = await createSandbox({ users: [{ id: BUYER, firstName: 'Rita' }] })
}, 180_000)

afterAll(async () => {
  await server?.close()
  await sandbox?.close()
  await database?.close()
})

describe('SECRET_KEY rotation', () => {
  it('an invoice issued before the rotation is still paid and matched after it', async () => {
    server = await start({ SECRET_KEY: OLD_KEY })
    const projectId = server.demoProjectId!
    await seedDemoCatalog(database.db, projectId)
    const before = createSecrets(OLD_KEY)
    await setBotToken(database.db, { projectId, botToken: sandbox.bot().token, secrets: before })
    const { secret: webhookSecret, endpoint } = await createWebhookEndpoint(database.db, {
      projectId,
      url: 'https://hooks.example.com/in',
      eventTypes: [],
      secrets: before,
    })
    const { key: apiKey } = await createApiKey(database.db, { projectId, name: 'bot' })
    let client = createEStarsClient({ url: server.url, apiKey })
    const invoice = await client.invoices.create.mutate({
      telegramUserId: BUYER,
      productKey: 'pack_s',
    })
    await server.close()

    // The switch: the new key writes, the old one still reads; then every stored secret moves.
    const rotating = loadSecrets(
      parseEnv({ SECRET_KEY: NEW_KEY, SECRET_KEY_PREVIOUS: OLD_KEY }),
      silent,
    )
    expect(rotating.rotating).toBe(true)
    expect(await rotateStoredSecrets(database.db, rotating)).toEqual({
      botTokens: 1,
      webhookSecrets: 1,
    })
    // After it, the new key alone opens what is stored; the old key alone no longer does.
    const [stored] = await database.db
      .select({ token: projects.botTokenEncrypted })
      .from(projects)
      .where(eq(projects.id, projectId))
    const onlyNew = createSecrets(NEW_KEY)
    expect(onlyNew.decryptBotToken(projectId, stored!.token!)).toBe(sandbox.bot().token)
    expect(() => before.decryptBotToken(projectId, stored!.token!)).toThrow()
    const [hook] = await database.db
      .select({ secret: webhookEndpoints.secretEncrypted })
      .from(webhookEndpoints)
      .where(eq(webhookEndpoints.id, endpoint.id))
    expect(onlyNew.decryptWebhookSecret(projectId, endpoint.id, hook!.secret)).toBe(webhookSecret)
    // The old invoice's payload was signed with the old key: only the previous key verifies it.
    expect(onlyNew.verifyOrderRef(projectId, invoice.payload)).toEqual({
      ok: false,
      reason: 'bad_signature',
    })

    server = await start({ SECRET_KEY: NEW_KEY, SECRET_KEY_PREVIOUS: OLD_KEY })
    client = createEStarsClient({ url: server.url, apiKey })
    const from = { id: BUYER, is_bot: false, first_name: 'Rita' }
    const recorded = await client.payments.record.mutate({
      from,
      successfulPayment: {
        currency: 'XTR',
        total_amount: invoice.priceStars,
        invoice_payload: invoice.payload,
        telegram_payment_charge_id: 'rotation-charge-1',
      },
    })
    expect(recorded).toMatchObject({ duplicate: false })
    const balance = await client.credits.balance.query({ telegramUserId: BUYER })
    expect(balance.available).toBeGreaterThan(0)
    const payment = await client.payments.get.query({
      telegramPaymentChargeId: 'rotation-charge-1',
    })
    expect(payment).toMatchObject({ status: 'paid', productKey: 'pack_s' })
    await server.close()
    server = null
  })

  it('refuses SECRET_KEY_PREVIOUS equal to SECRET_KEY, or not a key', () => {
    expect(() =>
      loadSecrets(parseEnv({ SECRET_KEY: NEW_KEY, SECRET_KEY_PREVIOUS: NEW_KEY }), silent),
    ).toThrow(/SECRET_KEY_PREVIOUS: is the same as SECRET_KEY/)
    expect(() =>
      loadSecrets(parseEnv({ SECRET_KEY: NEW_KEY, SECRET_KEY_PREVIOUS: 'short' }), silent),
    ).toThrow(/SECRET_KEY_PREVIOUS: must be at least 32 bytes/)
  })

  it('pnpm cli secrets rotate: needs both keys; re-encrypts in the embedded database', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'estars-rotate-'))
    try {
      const missing = await runCli(['secrets', 'rotate'], {
        DATA_DIR: dataDir,
        SECRET_KEY: NEW_KEY,
      })
      expect(missing.code).toBe(1)
      expect(missing.stderr).toMatch(/set SECRET_KEY to the new key and SECRET_KEY_PREVIOUS/)
      const done = await runCli(['secrets', 'rotate'], {
        DATA_DIR: dataDir,
        SECRET_KEY: NEW_KEY,
        SECRET_KEY_PREVIOUS: OLD_KEY,
      })
      expect(done.stderr).toBe('')
      expect(done.code).toBe(0)
      expect(done.stdout).toMatch(/Re-encrypted 0 bot token\(s\) and 0 webhook secret\(s\)/)
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 180_000)
})
