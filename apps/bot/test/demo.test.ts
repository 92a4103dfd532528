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
import { createBot } from '../src/bot.ts'
import { demoBootstrap } from '../src/demo.ts'
import { createOfflineModel } from '../src/model/offline.ts'
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
      expect(welcome.text).toMatch(/^Welcome, Alice!/)
      // The demo catalogue and its invoice, paid through the server's pre-checkout.
      const invoice = await user.say('/buy pack_m', (m) => m.invoice !== undefined)
      expect(
        (await demo.sandbox.payInvoice(2_000_001, { messageId: invoice.message_id })).status,
      ).toBe('paid')
      const thanks = await user.next(
        invoice.message_id,
        (m) => m.text?.startsWith('Payment') ?? false,
      )
      expect(thanks.text).toContain('+1 200 credits')
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
