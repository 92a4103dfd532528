/**
 * A whole e-Stars world on loopback for other packages' tests (the Telegraf middleware, the
 * reference bot): the Telegram sandbox, this server on a fresh test database with the demo
 * catalogue and features, the sandbox bot's token on the demo project, and an API key.
 */
import { createEStarsClient, type EStarsClient } from '@e-stars/api/client'
import {
  createApiKey,
  createSecrets,
  generateSecretKey,
  seedDemoCatalog,
  seedDemoFeatures,
  setBotToken,
} from '@e-stars/billing'
import type { Db } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { createSandbox, type Sandbox, type SandboxOptions } from '@e-stars/sandbox'
import { parseEnv } from './env.ts'
import { type RunningServer, startServer } from './server.ts'

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
  db: Db
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
      // The bots under test listen on loopback; the server's own port stays refused.
      ALLOW_PRIVATE_TARGETS: 'on',
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
    db: database.db,
    projectId,
    apiKey,
    client: createEStarsClient({ url: server.url, apiKey }),
    async close() {
      await server.close()
      await sandbox.close()
    },
  }
}
