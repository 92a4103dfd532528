import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createEStarsClient, type EStarsClient } from '@e-stars/api/client'
import {
  createApiKey,
  createSecrets,
  generateSecretKey,
  seedDemoCatalog,
  seedDemoFeatures,
  setBotToken,
} from '@e-stars/billing'
import { createTestDatabase } from '@e-stars/db/testing'
import { createSandbox, type Sandbox, type SandboxOptions } from '@e-stars/sandbox'
import { parseEnv, type RunningServer, startServer } from '@e-stars/server'
import type { Context, Telegraf } from 'telegraf'

export const ALICE = 2_000_001
export const BOB = 2_000_002
export const CAROL = 2_000_003

export interface LogLine {
  level: 'info' | 'warn' | 'error'
  obj: Record<string, unknown>
  msg: string | undefined
}

/** A logger that keeps what it was told, for assertions on what the middleware logged. */
export function memoryLogger() {
  const lines: LogLine[] = []
  const at =
    (level: LogLine['level']) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg })
    }
  return { lines, info: at('info'), warn: at('warn'), error: at('error') }
}

/** The server's own log: only errors are printed (an unexpected error in a test is worth seeing). */
const serverLogger = {
  info() {},
  warn() {},
  error(obj: object, msg?: string) {
    console.error('server:', msg, obj)
  },
}

export interface Stack {
  sandbox: Sandbox
  server: RunningServer
  projectId: string
  apiKey: string
  client: EStarsClient
  close(): Promise<void>
}

/**
 * The sandbox (Telegram), an e-Stars server on a fresh test database with the demo catalog and
 * features, the sandbox bot's token stored on the demo project, and an API key.
 */
export async function startStack(options: { sandbox?: SandboxOptions } = {}): Promise<Stack> {
  const sandbox = await createSandbox({
    users: [
      { id: ALICE, firstName: 'Alice', username: 'alice' },
      { id: BOB, firstName: 'Bob' },
      { id: CAROL, firstName: 'Carol' },
    ],
    ...options.sandbox,
  })
  const secretKey = generateSecretKey()
  const database = await createTestDatabase()
  const server = await startServer(
    parseEnv({
      PORT: '0',
      SECRET_KEY: secretKey,
      TELEGRAM_API_ROOT: sandbox.apiRoot,
      RECONCILE_INTERVAL_SECONDS: '0',
      LOG_LEVEL: 'silent',
    }),
    serverLogger,
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
  const { key: apiKey } = await createApiKey(database.db, { projectId, name: 'test bot' })
  return {
    sandbox,
    server,
    projectId,
    apiKey,
    client: createEStarsClient({ url: server.url, apiKey }),
    async close() {
      await server.close()
      await sandbox.close()
    },
  }
}

export type ProxyMode = 'pass' | 'hang'

/**
 * An HTTP proxy in front of the server that can fail (502) or hang on demand, and counts the
 * tRPC procedures it saw, to show what the middleware does when e-Stars misbehaves.
 */
export async function startFaultyProxy(target: string) {
  let mode: ProxyMode = 'pass'
  const failures = new Map<string, number>()
  const calls: string[] = []
  const hanging = new Set<IncomingMessage>()
  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const procedures = path.replace(/^\/trpc\//, '').split(',')
    calls.push(...procedures)
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    if (mode === 'hang') {
      hanging.add(req)
      return
    }
    const failing = procedures.find((p) => (failures.get(p) ?? 0) > 0)
    if (failing) {
      failures.set(failing, (failures.get(failing) ?? 0) - 1)
      res.writeHead(502, { 'content-type': 'text/plain' }).end('Bad gateway')
      return
    }
    const response = await fetch(new URL(req.url ?? '/', target), {
      method: req.method ?? 'GET',
      headers: Object.fromEntries(
        Object.entries(req.headers).filter(
          (e): e is [string, string] => typeof e[1] === 'string' && e[0] !== 'host',
        ),
      ),
      ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: Buffer.concat(chunks) }),
    })
    res.writeHead(response.status, { 'content-type': response.headers.get('content-type') ?? '' })
    res.end(Buffer.from(await response.arrayBuffer()))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    set(next: ProxyMode) {
      mode = next
    },
    /** The next `count` requests calling `procedure` get a 502. */
    fail(procedure: string, count = Number.POSITIVE_INFINITY) {
      failures.set(procedure, count)
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A URL where nothing listens: e-Stars is down. */
export async function closedPortUrl() {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

export function launchPolling<C extends Context>(bot: Telegraf<C>): Promise<void> {
  return new Promise((resolve, reject) => {
    bot.launch(() => resolve()).catch(reject)
  })
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it holds (state outside the sandbox: logs, the database). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await sleep(20)
  }
}
