/**
 * Issue 18, item 3: the demo raised false reconciliation alarms — the 15 seeded `demo_…`
 * payments Telegram never saw, and after each restart every earlier sandbox payment, because
 * the sandbox forgot its ledger. Here the demo as `pnpm start` runs it (embedded database and
 * the sandbox's Stars journal in one DATA_DIR, seeded history), bootstrapped twice, paid,
 * restarted, and reconciled: Telegram's ledger and e-Stars agree.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEStarsClient } from '@e-stars/api/client'
import {
  createSecrets,
  generateSecretKey,
  listProjects,
  listReconciliationRuns,
  reconcile,
} from '@e-stars/billing'
import { DEMO_BOT } from '@e-stars/sandbox'
import {
  type DemoSandbox,
  parseEnv,
  type RunningServer,
  startDemoSandbox,
  startServer,
} from '@e-stars/server'
import { createBotApi } from '@e-stars/telegram'
import { afterAll, describe, expect, it } from 'vitest'
import { createBot } from '../src/bot.ts'
import { demoBootstrap } from '../src/demo.ts'
import { createOfflineModel } from '../src/model/offline.ts'
import { PACKS } from './catalog-words.ts'
import { memoryLogger, userOf } from './stack.ts'

const silent = { info() {}, warn() {}, error() {} }
const DEMO_TOKEN = 'demo-token-of-the-reconcile-run'
const ALICE = 2_000_001

describe('the demo reconciles clean across restarts', () => {
  let demo: DemoSandbox | undefined
  let server: RunningServer | undefined
  const stop = async () => {
    await server?.close()
    await demo?.close()
    server = undefined
    demo = undefined
  }
  afterAll(stop)

  it('seeded history, two bootstraps, a payment and a restart: zero findings', async () => {
    const secretKey = generateSecretKey()
    const env = parseEnv({
      PORT: '0',
      SANDBOX_PORT: '0',
      SECRET_KEY: secretKey,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'estars-demo-reconcile-')),
      DEMO_DATA: 'on',
      RECONCILE_INTERVAL_SECONDS: '0',
      ESTARS_DEMO_TOKEN: DEMO_TOKEN,
    })
    const start = async () => {
      demo = await startDemoSandbox(env, silent)
      server = await startServer(demo.env, silent, { extend: demo.mount })
      return { demo, server }
    }
    const reconcileNow = async (running: { demo: DemoSandbox; server: RunningServer }) => {
      const [project] = await listProjects(running.server.database.db)
      return reconcile(running.server.database.db, {
        projectId: project!.id,
        botApi: createBotApi({ token: DEMO_BOT.token, apiRoot: running.demo.sandbox.apiRoot }),
        secrets: createSecrets(secretKey),
        trigger: 'manual',
      })
    }

    let running = await start()
    // Every seeded payment is a charge the sandbox's Telegram made.
    const seeded = running.demo.sandbox.starTransactions()
    expect(seeded).toHaveLength(15)
    expect(seeded.every((t) => t.id.startsWith('stxSANDBOX'))).toBe(true)

    const config = await demoBootstrap(running.server.url, DEMO_TOKEN)
    expect((await demoBootstrap(running.server.url, DEMO_TOKEN)).apiKey).toBe(config.apiKey)
    const { bot } = createBot({
      token: config.botToken,
      apiRoot: config.apiRoot,
      client: createEStarsClient({ url: running.server.url, apiKey: config.apiKey }),
      model: createOfflineModel(),
      logger: memoryLogger(),
    })
    await new Promise<void>((resolve, reject) => {
      bot.launch(() => resolve()).catch(reject)
    })
    try {
      const invoice = await userOf(running.demo.sandbox, ALICE).say(
        `/buy ${PACKS[0]?.key}`,
        (m) => m.invoice !== undefined,
      )
      const paid = await running.demo.sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
      expect(paid.status).toBe('paid')
      await userOf(running.demo.sandbox, ALICE).next(
        invoice.message_id,
        (m) => m.text?.startsWith('Payment') ?? false,
      )
    } finally {
      bot.stop('restart')
    }
    const before = await reconcileNow(running)
    expect(before).toMatchObject({ status: 'succeeded', findings: [] })
    await stop()

    running = await start()
    expect(running.demo.sandbox.starTransactions()).toHaveLength(16)
    const after = await reconcileNow(running)
    expect(after).toMatchObject({ status: 'succeeded', transactionsSeen: 16, findings: [] })
    if (after.status !== 'succeeded') throw new Error('skipped')
    expect(after.summary).toEqual({ charges: 16, refunds: 0 })
    const [project] = await listProjects(running.server.database.db)
    const [run] = await listReconciliationRuns(running.server.database.db, {
      projectId: project!.id,
    })
    expect(run?.summaryWords).toEqual(['16 charges at Telegram', '0 refunds at Telegram'])
  }, 120_000)
})
