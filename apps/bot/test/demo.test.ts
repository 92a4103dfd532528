import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEStarsClient } from '@e-stars/api/client'
import { generateSecretKey } from '@e-stars/billing'
import { createTestDatabase } from '@e-stars/db/testing'
import {
  type DemoSandbox,
  parseEnv,
  type RunningServer,
  startDemoSandbox,
  startServer,
} from '@e-stars/server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyCatalog } from '../src/apply-catalog.ts'
import { createBot } from '../src/bot.ts'
import { type DemoBootstrap, demoBootstrap } from '../src/demo.ts'
import { createOfflineModel } from '../src/model/offline.ts'
import { PACKS, WORDS } from './catalog-words.ts'
import { memoryLogger, userOf } from './stack.ts'

const silent = { info() {}, warn() {}, error() {} }
const DEMO_TOKEN = 'demo-token-of-this-test-run'

/**
 * What `pnpm start` does, in one process: the server in sandbox mode (its own Telegram sandbox),
 * and the bot with no configuration at all asking the server for the rest.
 */
describe('the zero-configuration demo', () => {
  let demo: DemoSandbox
  let server: RunningServer
  beforeAll(async () => {
    const env = parseEnv({
      PORT: '0',
      SANDBOX_PORT: '0',
      SECRET_KEY: generateSecretKey(),
      DATA_DIR: mkdtempSync(join(tmpdir(), 'estars-bot-demo-')),
      ESTARS_DEMO_TOKEN: DEMO_TOKEN,
    })
    demo = await startDemoSandbox(env, silent)
    server = await startServer(demo.env, silent, {
      database: await createTestDatabase(),
      extend: demo.mount,
    })
  })
  afterAll(async () => {
    await server?.close()
    await demo?.close()
  })

  it('the bot bootstraps from the server and answers a user in the sandbox', async () => {
    const config = await demoBootstrap(server.url, DEMO_TOKEN)
    expect(config).toMatchObject({
      botToken: '1000001:sandbox',
      apiRoot: demo.sandbox.apiRoot,
      sandboxUrl: demo.sandbox.url,
      users: [
        { id: 2_000_001, firstName: 'Alice' },
        { id: 2_000_002, firstName: 'Bob' },
      ],
    })
    const client = createEStarsClient({ url: server.url, apiKey: config.apiKey })
    expect(await client.project.whoami.query()).toMatchObject({ projectId: config.projectId })
    // As main.ts: the bot's catalog applied before it takes updates.
    await applyCatalog(client, memoryLogger())
    const { bot } = createBot({
      token: config.botToken,
      apiRoot: config.apiRoot,
      client,
      model: createOfflineModel(),
      logger: memoryLogger(),
    })
    await new Promise<void>((resolve, reject) => {
      bot.launch(() => resolve()).catch(reject)
    })
    try {
      const user = userOf(demo.sandbox, 2_000_001)
      const welcome = await user.say('/start')
      expect(welcome.text?.startsWith(WORDS.start.welcome('Alice'))).toBe(true)
      // The demo catalogue and its invoice, paid through the server's pre-checkout.
      const pack = PACKS[1] ?? PACKS[0]
      const invoice = await user.say(`/buy ${pack?.key}`, (m) => m.invoice !== undefined)
      expect(
        (await demo.sandbox.payInvoice(2_000_001, { messageId: invoice.message_id })).status,
      ).toBe('paid')
      const thanks = await user.next(
        invoice.message_id,
        (m) => m.text?.startsWith('Payment') ?? false,
      )
      expect(thanks.text).toContain(WORDS.payments.credits(pack?.credits ?? 0))
    } finally {
      bot.stop('test end')
    }
  })

  it('the console’s Sandbox page is switched on and pointed at the same sandbox', async () => {
    const config = await fetch(`${server.url}/console-api/config`).then((r) => r.json())
    expect(config).toMatchObject({ sandbox: true })
    expect(demo.env.SANDBOX_URL).toBe(demo.sandbox.url)
    expect(demo.env.TELEGRAM_API_ROOT).toBe(demo.sandbox.apiRoot)
  })

  it('a second bootstrap (a curl, a second bot) hands out the same key: the running bot still answers', async () => {
    const first = await demoBootstrap(server.url, DEMO_TOKEN)
    const { bot } = createBot({
      token: first.botToken,
      apiRoot: first.apiRoot,
      client: createEStarsClient({ url: server.url, apiKey: first.apiKey }),
      model: createOfflineModel(),
      logger: memoryLogger(),
    })
    await new Promise<void>((resolve, reject) => {
      bot.launch(() => resolve()).catch(reject)
    })
    try {
      const [second, third] = await Promise.all([
        demoBootstrap(server.url, DEMO_TOKEN),
        demoBootstrap(server.url, DEMO_TOKEN),
      ])
      expect(second?.apiKey).toBe(first.apiKey)
      expect(third?.apiKey).toBe(first.apiKey)
      // The first bot's key still works, so it answers rather than "something went wrong".
      const balance = await userOf(demo.sandbox, 2_000_002).say('/balance')
      expect(balance.text).not.toMatch(/went wrong/i)
      expect(balance.text).toMatch(/credit/i)
    } finally {
      bot.stop('test end')
    }
  })

  it('a bot with another run’s demo token (another e-Stars on the port) is refused and stops', async () => {
    await expect(demoBootstrap(server.url, 'the-token-of-another-run')).rejects.toThrow(
      /was not started with this bot/,
    )
    await expect(demoBootstrap(server.url, undefined)).rejects.toThrow(/ESTARS_DEMO_TOKEN/)
  })

  it('a server not in sandbox mode answers 404, and the bot says what to configure', async () => {
    const plain = await startServer(
      parseEnv({ PORT: '0', SECRET_KEY: generateSecretKey() }),
      silent,
      {
        database: await createTestDatabase(),
      },
    )
    try {
      await expect(demoBootstrap(plain.url, DEMO_TOKEN)).rejects.toThrow(
        /not in sandbox mode[\s\S]*set TELEGRAM_BOT_TOKEN and ESTARS_API_KEY/,
      )
    } finally {
      await plain.close()
    }
  })
})

/**
 * The first hour's complaint: a second bootstrap (a curl, a second bot, `pnpm dev` elsewhere)
 * revoked the running bot's key, and it answered "Sorry, something went wrong" until restarted.
 * Here on the embedded database in DATA_DIR, as `pnpm start` runs it; after the restart the bot
 * starts again, as turbo restarts it.
 */
describe('the demo survives a second /demo/bootstrap and a restart', () => {
  let demo: DemoSandbox | undefined
  let server: RunningServer | undefined
  const stopDemo = async () => {
    await server?.close()
    await demo?.close()
    server = undefined
    demo = undefined
  }
  afterAll(stopDemo)

  it('the running bot keeps answering, and after a restart the same key is handed out', async () => {
    const env = parseEnv({
      PORT: '0',
      SANDBOX_PORT: '0',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'estars-bot-restart-')),
      DEMO_DATA: 'off',
      RECONCILE_INTERVAL_SECONDS: '0',
      ESTARS_DEMO_TOKEN: DEMO_TOKEN,
    })
    const startDemo = async () => {
      demo = await startDemoSandbox(env, silent)
      server = await startServer(demo.env, silent, { extend: demo.mount })
      return { demo, server }
    }
    const launch = async (config: DemoBootstrap, url: string) => {
      const { bot } = createBot({
        token: config.botToken,
        apiRoot: config.apiRoot,
        client: createEStarsClient({ url, apiKey: config.apiKey }),
        model: createOfflineModel(),
        logger: memoryLogger(),
      })
      await new Promise<void>((resolve, reject) => {
        bot.launch(() => resolve()).catch(reject)
      })
      return bot
    }

    let running = await startDemo()
    const first = await demoBootstrap(running.server.url, DEMO_TOKEN)
    let bot = await launch(first, running.server.url)
    try {
      // Someone else bootstraps while the bot runs: a curl, a second bot.
      expect((await demoBootstrap(running.server.url, DEMO_TOKEN)).apiKey).toBe(first.apiKey)
      const answer = await userOf(running.demo.sandbox, 2_000_001).say('/balance')
      expect(answer.text).not.toMatch(/went wrong/i)
      bot.stop('restart')
      await stopDemo()

      running = await startDemo()
      const again = await demoBootstrap(running.server.url, DEMO_TOKEN)
      expect(again.apiKey).toBe(first.apiKey)
      bot = await launch(again, running.server.url)
      const welcome = await userOf(running.demo.sandbox, 2_000_001).say('/start')
      expect(welcome.text).toMatch(/^Welcome, Alice!/)
    } finally {
      bot.stop('test end')
    }
  }, 120_000)
})
