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
import { createSandbox, type Message, type Sandbox, type SandboxOptions } from '@e-stars/sandbox'
import { parseEnv, type RunningServer, startServer } from '@e-stars/server'
import { createBot } from '../src/bot.ts'
import type { ChatModel } from '../src/model/types.ts'

export const ALICE = 2_000_001
export const BOB = 2_000_002

export interface LogLine {
  level: 'info' | 'warn' | 'error'
  obj: Record<string, unknown>
  msg: string | undefined
}

export function memoryLogger() {
  const lines: LogLine[] = []
  const at =
    (level: LogLine['level']) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg })
    }
  return { lines, info: at('info'), warn: at('warn'), error: at('error') }
}

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

/** Telegram (the sandbox) and an e-Stars server with the demo catalogue, features and bot token. */
export async function startStack(options: { sandbox?: SandboxOptions } = {}): Promise<Stack> {
  const sandbox = await createSandbox({
    users: [
      { id: ALICE, firstName: 'Alice', username: 'alice' },
      { id: BOB, firstName: 'Bob' },
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
  const { key: apiKey } = await createApiKey(database.db, { projectId, name: 'reference bot' })
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

/** The reference bot polling the stack's sandbox. */
export async function launchBot(stack: Stack, model: ChatModel) {
  const logger = memoryLogger()
  const reference = createBot({
    token: stack.sandbox.bot().token,
    apiRoot: stack.sandbox.apiRoot,
    client: stack.client,
    model,
    logger,
  })
  await new Promise<void>((resolve, reject) => {
    reference.bot.launch(() => resolve()).catch(reject)
  })
  return { reference, logger, stop: () => reference.bot.stop('test end') }
}

/** A simulated user talking to the bot through the sandbox. */
export function userOf(sandbox: Sandbox, userId: number) {
  return {
    /** Sends `text` and waits for the bot's first message after it matching `expect`. */
    async say(text: string, expect?: (m: Message) => boolean, timeoutMs = 5000) {
      const sent = sandbox.sendText(userId, text)
      return sandbox.waitForMessage(userId, expect, timeoutMs, { afterMessageId: sent.message_id })
    },
    /** The next bot message after `afterMessageId` matching `expect`. */
    next(afterMessageId: number, expect?: (m: Message) => boolean, timeoutMs = 5000) {
      return sandbox.waitForMessage(userId, expect, timeoutMs, { afterMessageId })
    },
    /** Bot messages after `afterMessageId`, oldest first. */
    since(afterMessageId: number) {
      return sandbox
        .transcript(userId)
        .filter((m) => m.message_id > afterMessageId && m.from?.is_bot)
    },
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await sleep(20)
  }
}
