import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '@e-stars/api'
import {
  authenticateApiKey,
  createApiKey,
  createSecrets,
  listProjects,
  type Secrets,
  seedDemoCatalog,
  seedDemoFeatures,
  setBotToken,
} from '@e-stars/billing'
import type { Database, Db } from '@e-stars/db'
import { createSandbox, DEMO_BOT, miniAppHost, type Sandbox } from '@e-stars/sandbox'
import type express from 'express'
import { isLoopbackRequest } from './client-address.ts'
import { tokenMatches } from './control-file.ts'
import type { Env } from './env.ts'
import { DEMO_PROJECT_NAME } from './first-start.ts'
import { loadSecretKey } from './secret-key.ts'

/** The simulated users of the demo sandbox (the same as the sandbox CLI's). */
export const DEMO_USERS = [
  { id: 2_000_001, firstName: 'Alice', username: 'alice' },
  { id: 2_000_002, firstName: 'Bob', username: 'bob' },
]

const DEMO_KEY_NAME = 'reference bot (sandbox demo)'
/** The demo key, sealed with the server's secrets, so a restart hands out the same one. */
const DEMO_KEY_FILE = 'demo-key.json'
/** The sandbox's Stars ledger, next to the database it must agree with across restarts. */
export const SANDBOX_STARS_FILE = 'sandbox-stars.json'

/**
 * Sandbox mode: `SANDBOX=on`, or `auto` (the default) with no `DATABASE_URL` and no
 * `TELEGRAM_BOT_TOKEN` — the zero-configuration `pnpm start`. Never with PostgreSQL unless asked.
 */
export function sandboxWanted(env: Env): boolean {
  if (env.SANDBOX === 'on') return true
  if (env.SANDBOX === 'off') return false
  return !env.DATABASE_URL && !env.TELEGRAM_BOT_TOKEN
}

/** The project the demo runs in: the first one named like the first start's, else the first. */
export async function findDemoProject(db: Db) {
  const projects = await listProjects(db)
  return projects.find((p) => p.name === DEMO_PROJECT_NAME) ?? projects[0] ?? null
}

export interface DemoSandbox {
  sandbox: Sandbox
  /** The server's configuration pointed at the sandbox (Telegram API root, console Sandbox page). */
  env: Env
  /** Mounts `POST /demo/bootstrap` (loopback only, with the demo token). */
  mount(app: express.Express, database: Database): void
  close(): Promise<void>
}

/**
 * Starts the Telegram sandbox in this process on `SANDBOX_PORT` and returns the server's
 * configuration pointed at it. The reference bot asks `POST /demo/bootstrap` for what it needs:
 * the sandbox API root, the demo bot token (stored on the demo project, which the sandbox's
 * invoice links and refunds need) and the demo project's API key — the same key every time, so
 * a second bootstrap (a curl, a second bot, a restart) never breaks a bot that is running.
 */
export async function startDemoSandbox(env: Env, logger: Logger): Promise<DemoSandbox> {
  // The sandbox's Telegram also hosts the reference Mini App the server serves at /miniapp/.
  const serverHost = ['0.0.0.0', '::'].includes(env.HOST) ? '127.0.0.1' : env.HOST
  const serverOrigin = `http://${serverHost.includes(':') ? `[${serverHost}]` : serverHost}:${env.PORT}`
  const miniApp = miniAppHost({ appUrl: `${serverOrigin}/miniapp/` })
  const sandbox = await createSandbox({
    port: env.SANDBOX_PORT,
    host: env.HOST,
    users: DEMO_USERS,
    extensions: [miniApp],
    starsJournal: join(env.DATA_DIR, SANDBOX_STARS_FILE),
    allowedOrigins: env.PORT === 0 ? [] : [serverOrigin],
    ...(env.SANDBOX_TOKEN ? { controlToken: env.SANDBOX_TOKEN } : {}),
  })
  const secrets = createSecrets(loadSecretKey(env, logger))
  logger.info({ url: sandbox.url }, 'Telegram sandbox listening (demo mode)')
  return {
    sandbox,
    env: {
      ...env,
      TELEGRAM_API_ROOT: sandbox.apiRoot,
      SANDBOX_URL: sandbox.url,
      SANDBOX_TOKEN: sandbox.controlToken,
    },
    mount(app, database) {
      const bootstrap = demoBootstrapper({ db: database.db, secrets, dataDir: env.DATA_DIR })
      app.all('/demo/bootstrap', async (req, res) => {
        res.setHeader('cache-control', 'no-store')
        // A GET is what a web page (or a redirect) can make the browser or the server send.
        if (req.method !== 'POST') {
          res.setHeader('allow', 'POST')
          res.status(405).json({ error: 'POST /demo/bootstrap, with the demo token' })
          return
        }
        const refusal = bootstrapRefusal(req, env.ESTARS_DEMO_TOKEN)
        if (refusal) {
          res.status(403).json({ error: refusal })
          return
        }
        try {
          const handed = await bootstrap()
          if (!handed) {
            res
              .status(409)
              .json({ error: 'No project: start the server once on an empty database' })
            return
          }
          res.json({
            ...handed,
            botToken: DEMO_BOT.token,
            apiRoot: sandbox.apiRoot,
            sandboxUrl: sandbox.url,
            users: DEMO_USERS,
          })
        } catch (error) {
          logger.error({ err: error }, 'demo bootstrap failed')
          res.status(500).json({ error: 'Demo bootstrap failed; see the server log' })
        }
      })
    },
    close: () => sandbox.close(),
  }
}

/** Why a bootstrap request is refused, or null: loopback only, and the demo's own token. */
function bootstrapRefusal(req: express.Request, demoToken: string | undefined): string | null {
  // The peer and every proxy hop named (TRUST_PROXY) must be this machine.
  if (!isLoopbackRequest(req)) return 'The demo bootstrap answers on loopback only'
  if (!demoToken)
    return 'This server was started without ESTARS_DEMO_TOKEN: start the demo with `pnpm start`, or give the server and the bot the same ESTARS_DEMO_TOKEN'
  const presented = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1]
  if (!tokenMatches(demoToken, presented))
    return 'Not the demo token of the process that started this server'
  return null
}

/**
 * Prepares the demo project and hands out its API key: the one already issued while it is
 * still valid (kept sealed in DATA_DIR, so it outlives a restart), a new one only the first
 * time or after an operator revoked it. Nothing is revoked here. Bootstraps run one at a time,
 * so two bots starting together get the same key.
 */
function demoBootstrapper(deps: { db: Db; secrets: Secrets; dataDir: string }) {
  let queue: Promise<unknown> = Promise.resolve()
  const run = async () => {
    const project = await findDemoProject(deps.db)
    if (!project) return null
    await seedDemoCatalog(deps.db, project.id)
    await seedDemoFeatures(deps.db, project.id)
    await setBotToken(deps.db, {
      projectId: project.id,
      botToken: DEMO_BOT.token,
      secrets: deps.secrets,
    })
    const kept = readDemoKey(deps, project.id)
    if (kept && (await authenticateApiKey(deps.db, kept))?.projectId === project.id)
      return { projectId: project.id, apiKey: kept }
    const { key } = await createApiKey(deps.db, { projectId: project.id, name: DEMO_KEY_NAME })
    writeDemoKey(deps, project.id, key)
    return { projectId: project.id, apiKey: key }
  }
  return () => {
    const next = queue.then(run)
    queue = next.catch(() => undefined)
    return next
  }
}

interface SealedDemoKey {
  projectId: string
  sealed: string
}

function readDemoKey(deps: { secrets: Secrets; dataDir: string }, projectId: string) {
  try {
    const file = JSON.parse(
      readFileSync(join(deps.dataDir, DEMO_KEY_FILE), 'utf8'),
    ) as SealedDemoKey
    if (file.projectId !== projectId) return null
    // Sealed like a bot token: AES-GCM bound to the project, under the server's SECRET_KEY.
    return deps.secrets.decryptBotToken(projectId, file.sealed)
  } catch {
    // No file yet, another SECRET_KEY, or a damaged file: a new key replaces it.
    return null
  }
}

function writeDemoKey(deps: { secrets: Secrets; dataDir: string }, projectId: string, key: string) {
  mkdirSync(deps.dataDir, { recursive: true, mode: 0o700 })
  const path = join(deps.dataDir, DEMO_KEY_FILE)
  const file: SealedDemoKey = { projectId, sealed: deps.secrets.encryptBotToken(projectId, key) }
  writeFileSync(`${path}.tmp`, JSON.stringify(file), { mode: 0o600 })
  renameSync(`${path}.tmp`, path)
}
