import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  createApiKey,
  createSecrets,
  generateSecretKey,
  seedDemoCatalog,
  seedDemoFeatures,
  setBotToken,
} from '@e-stars/billing'
import { createTestDatabase } from '@e-stars/db/testing'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { parseEnv, type RunningServer, startServer } from '@e-stars/server'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createEStarsClient } from '../src/index.ts'

/**
 * A bot in another repository: a project in the system's temp directory (outside this
 * workspace, so nothing resolves to its sources) installs the packed tarballs with plain npm,
 * typechecks under strict TypeScript, and runs against a live server and the sandbox.
 */
const run = promisify(execFile)
const packs = inject('packs')
const fixtures = fileURLToPath(new URL('../consumer/', import.meta.url))
/** The workspace's compiler (TypeScript 7); resolution is the project's own, from its node_modules. */
const tsc = fileURLToPath(import.meta.resolve('typescript/package.json')).replace(
  /package\.json$/,
  'bin/tsc',
)
/** Peers at the versions this repository tests with (pnpm-workspace.yaml's catalog). */
const PEERS = [
  'telegraf@4.16.3',
  'grammy@1.46.0',
  '@trpc/client@11.25.2',
  '@trpc/server@11.25.2',
  '@types/node@20',
  // grammY's own declarations import node-fetch's types: under skipLibCheck: false (below) a
  // grammY bot needs them whether or not it uses e-Stars.
  '@types/node-fetch@2',
]
/** The sample bots: the same bot on Telegraf and on grammY. */
const BOTS = ['bot.ts', 'grammy-bot.ts'] as const
const USER = 2_000_001

const STRICT = {
  target: 'ES2022',
  // DOM: @trpc/client's own declarations name `RequestInfo` (with skipLibCheck: false).
  lib: ['ES2023', 'DOM'],
  strict: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: false,
  types: ['node'],
}
const CONFIGS = {
  nodenext: { ...STRICT, module: 'NodeNext', moduleResolution: 'NodeNext' },
  bundler: { ...STRICT, module: 'Preserve', moduleResolution: 'Bundler', noEmit: true },
} as const
type ConfigName = keyof typeof CONFIGS

let project: string
let installSeconds = 0

interface Check {
  code: number
  output: string
  seconds: number
}

/** tsc over one file of the project; never throws, the exit code says. */
async function typecheck(config: ConfigName, file: string, extra: string[] = []): Promise<Check> {
  const started = performance.now()
  const args = [tsc, '-p', `tsconfig.${config}.json`, ...extra]
  await writeFile(
    join(project, `tsconfig.${config}.json`),
    JSON.stringify({
      compilerOptions: { ...CONFIGS[config], rootDir: 'src', outDir: 'out' },
      files: [file],
    }),
  )
  try {
    const { stdout } = await run(process.execPath, args, { cwd: project })
    return { code: 0, output: stdout, seconds: (performance.now() - started) / 1000 }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return {
      code: e.code,
      output: e.stdout + e.stderr,
      seconds: (performance.now() - started) / 1000,
    }
  }
}

/** `(line, code)` of every error tsc printed for a file, e.g. `11 TS2322`. */
const errorsIn = (output: string, file: string) =>
  [
    ...new Set(
      [...output.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+)/gm)].map((m) =>
        m[1]?.endsWith(file) ? `${m[2]} ${m[3]}` : `elsewhere: ${m[0]}`,
      ),
    ),
  ].sort()

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'estars-existing-bot-'))
  await mkdir(join(project, 'src'))
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'existing-bot', private: true, type: 'module' }),
  )
  for (const file of [...BOTS, 'broken.ts'])
    await copyFile(join(fixtures, file), join(project, 'src', file))
  const started = performance.now()
  const install = () =>
    run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        packs.tarballs.client,
        packs.tarballs.telegraf,
        packs.tarballs.grammy,
        ...PEERS,
      ],
      { cwd: project, maxBuffer: 16 * 2 ** 20 },
    )
  // One retry: the peers come from the npm registry (or npm's cache), and a registry can hiccup.
  await install().catch(install)
  installSeconds = (performance.now() - started) / 1000
}, 300_000)

afterAll(async () => {
  if (project) await rm(project, { recursive: true, force: true })
})

describe('a bot in its own repository', () => {
  it('installs the tarballs with npm, without any server-side package', async () => {
    const lock = JSON.parse(await readFile(join(project, 'package-lock.json'), 'utf8'))
    const installed = Object.keys(lock.packages).map((p) => p.replace(/^.*node_modules\//, ''))
    expect(installed).toEqual(
      expect.arrayContaining(['@e-stars/client', '@e-stars/telegraf', '@e-stars/grammy']),
    )
    expect(
      installed.filter((p) =>
        /^(drizzle-orm|postgres|express|pino|@electric-sql\/pglite|@e-stars\/(api|billing|db|server|telegram))$/.test(
          p,
        ),
      ),
    ).toEqual([])
    // The adapters' dependency on the client is met by the same installed copy.
    for (const adapter of ['telegraf', 'grammy'])
      expect(lock.packages[`node_modules/@e-stars/${adapter}/node_modules/@e-stars/client`]).toBe(
        undefined,
      )
    console.info(`npm install (tarballs + peers, --prefer-offline): ${installSeconds.toFixed(1)} s`)
  })

  it.each(
    BOTS.flatMap((file) => (['nodenext', 'bundler'] as const).map((config) => ({ file, config }))),
  )('typechecks the sample $file under strict $config', async ({ file, config }) => {
    const check = await typecheck(config, `src/${file}`, ['--noEmit'])
    expect(check.output).toBe('')
    expect(check.code).toBe(0)
    console.info(`tsc ${config} src/${file} (skipLibCheck: false): ${check.seconds.toFixed(2)} s`)
  })

  it.each(['nodenext', 'bundler'] as const)(
    'fails the check of the file with type errors under %s, exactly where they are',
    async (config) => {
      const source = await readFile(join(fixtures, 'broken.ts'), 'utf8')
      const expected = source
        .split('\n')
        .flatMap((line, i) => {
          const code = /\/\/ expect-error (TS\d+)/.exec(line)?.[1]
          return code ? [`${i + 1} ${code}`] : []
        })
        .sort()
      expect(expected.length).toBeGreaterThan(5)
      const check = await typecheck(config, 'src/broken.ts', ['--noEmit'])
      expect(check.code).not.toBe(0)
      expect(errorsIn(check.output, 'src/broken.ts')).toEqual(expected)
    },
  )

  describe.each(BOTS)('running %s against a live server and the sandbox', (file) => {
    let sandbox: Sandbox
    let server: RunningServer
    let apiKey: string
    let bot: ChildProcess
    let botLog = ''

    beforeAll(async () => {
      sandbox = await createSandbox({ users: [{ id: USER, firstName: 'Alice' }] })
      const secretKey = generateSecretKey()
      const database = await createTestDatabase()
      server = await startServer(
        parseEnv({
          PORT: '0',
          SECRET_KEY: secretKey,
          TELEGRAM_API_ROOT: sandbox.apiRoot,
          RECONCILE_INTERVAL_SECONDS: '0',
          LOG_LEVEL: 'silent',
        }),
        { info() {}, warn() {}, error: (obj, msg) => console.error('server:', msg, obj) },
        { database },
      )
      const projectId = server.demoProjectId
      if (!projectId) throw new Error('the test database should start empty')
      await seedDemoCatalog(database.db, projectId)
      await seedDemoFeatures(database.db, projectId)
      await setBotToken(database.db, {
        projectId,
        botToken: sandbox.bot().token,
        secrets: createSecrets(secretKey),
      })
      apiKey = (await createApiKey(database.db, { projectId, name: 'existing bot' })).key

      const emitted = await typecheck('nodenext', `src/${file}`)
      if (emitted.code !== 0) throw new Error(`tsc could not emit the bot:\n${emitted.output}`)
      bot = spawn(process.execPath, [`out/${file.replace(/\.ts$/, '.js')}`], {
        cwd: project,
        env: {
          PATH: process.env.PATH,
          ESTARS_URL: server.url,
          ESTARS_API_KEY: apiKey,
          TELEGRAM_BOT_TOKEN: sandbox.bot().token,
          TELEGRAM_API_ROOT: sandbox.apiRoot,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`the bot did not start:\n${botLog}`)),
          20_000,
        )
        const read = (chunk: Buffer) => {
          botLog += chunk.toString()
          if (botLog.includes('bot ready')) {
            clearTimeout(timer)
            resolve()
          }
        }
        bot.stdout?.on('data', read)
        bot.stderr?.on('data', read)
        bot.once('exit', (code) => reject(new Error(`the bot exited (${code}):\n${botLog}`)))
      })
    })

    afterAll(async () => {
      if (bot && bot.exitCode === null) {
        const exited = new Promise((resolve) => bot.once('exit', resolve))
        bot.kill('SIGTERM')
        await exited
      }
      await server?.close()
      await sandbox?.close()
    })

    /** Sends a message as the user and waits for the bot's reply matching `text`. */
    async function say(message: string, text: RegExp) {
      const sent = sandbox.sendText(USER, message)
      return sandbox
        .waitForMessage(USER, (m) => text.test(m.text ?? ''), 10_000, {
          afterMessageId: sent.message_id,
        })
        .catch((error: Error) => {
          throw new Error(`${error.message}\nbot output:\n${botLog}`)
        })
    }

    it('refuses before any purchase with the typed facts', async () => {
      await say('/image', /^Not enough credits: 0 of 20\. Try \/buy$/)
    })

    it('/buy sends a Stars invoice; paying it credits the pack once', async () => {
      const sent = sandbox.sendText(USER, '/buy')
      const invoice = await sandbox.waitForMessage(USER, (m) => m.invoice !== undefined, 10_000, {
        afterMessageId: sent.message_id,
      })
      expect(invoice.invoice).toMatchObject({ currency: 'XTR', total_amount: 50 })
      const paid = await sandbox.payInvoice(USER, { messageId: invoice.message_id })
      expect(paid.status).toBe('paid')
      await sandbox.waitForMessage(USER, (m) => /Payment received/.test(m.text ?? ''), 10_000, {
        afterMessageId: invoice.message_id,
      })
      const client = createEStarsClient({ url: server.url, apiKey })
      expect(await client.credits.balance.query({ telegramUserId: USER })).toMatchObject({
        available: 500,
      })
    })

    it('consumes through ctx.billing and reads the balance through the client', async () => {
      await say('/image', /^Image ready: 20 credits, 480 left$/)
      await say('/balance', /^Balance: 480 credits$/)
      const client = createEStarsClient({ url: server.url, apiKey })
      const { payments } = await client.payments.list.query({ telegramUserId: USER })
      expect(payments).toHaveLength(1)
      expect(payments[0]).toMatchObject({ amountStars: 50, status: 'paid', productKey: 'pack_s' })
    })
  })
})
