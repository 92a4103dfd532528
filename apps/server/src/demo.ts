import type { Logger } from '@e-stars/api'
import {
  createApiKey,
  createSecrets,
  listApiKeys,
  listProjects,
  revokeApiKey,
  seedDemoCatalog,
  seedDemoFeatures,
  setBotToken,
} from '@e-stars/billing'
import type { Database } from '@e-stars/db'
import { createSandbox, DEMO_BOT, miniAppHost, type Sandbox } from '@e-stars/sandbox'
import type express from 'express'
import type { Env } from './env.ts'
import { DEMO_PROJECT_NAME } from './first-start.ts'
import { loadSecretKey } from './secret-key.ts'

/** The simulated users of the demo sandbox (the same as the sandbox CLI's). */
export const DEMO_USERS = [
  { id: 2_000_001, firstName: 'Alice', username: 'alice' },
  { id: 2_000_002, firstName: 'Bob', username: 'bob' },
]

const DEMO_KEY_NAME = 'reference bot (sandbox demo)'

/**
 * Sandbox mode: `SANDBOX=on`, or `auto` (the default) with no `DATABASE_URL` and no
 * `TELEGRAM_BOT_TOKEN` — the zero-configuration `pnpm start`. Never with PostgreSQL unless asked.
 */
export function sandboxWanted(env: Env): boolean {
  if (env.SANDBOX === 'on') return true
  if (env.SANDBOX === 'off') return false
  return !env.DATABASE_URL && !env.TELEGRAM_BOT_TOKEN
}

export interface DemoSandbox {
  sandbox: Sandbox
  /** The server's configuration pointed at the sandbox (Telegram API root, console Sandbox page). */
  env: Env
  /** Mounts `GET /demo/bootstrap` (loopback only). */
  mount(app: express.Express, database: Database): void
  close(): Promise<void>
}

/**
 * Starts the Telegram sandbox in this process on `SANDBOX_PORT` and returns the server's
 * configuration pointed at it. The reference bot asks `GET /demo/bootstrap` for what it needs:
 * the sandbox API root, the demo bot token (stored on the demo project, which the sandbox's
 * invoices links and refunds need) and a fresh API key of the demo project (the previous demo
 * key is revoked, so restarts do not pile keys up).
 */
export async function startDemoSandbox(env: Env, logger: Logger): Promise<DemoSandbox> {
  // The sandbox's Telegram also hosts the reference Mini App the server serves at /miniapp/.
  const serverHost = ['0.0.0.0', '::'].includes(env.HOST) ? '127.0.0.1' : env.HOST
  const miniApp = miniAppHost({
    appUrl: `http://${serverHost.includes(':') ? `[${serverHost}]` : serverHost}:${env.PORT}/miniapp/`,
  })
  const sandbox = await createSandbox({
    port: env.SANDBOX_PORT,
    host: env.HOST,
    users: DEMO_USERS,
    extensions: [miniApp],
  })
  const secrets = createSecrets(loadSecretKey(env, logger))
  logger.info({ url: sandbox.url }, 'Telegram sandbox listening (demo mode)')
  return {
    sandbox,
    env: { ...env, TELEGRAM_API_ROOT: sandbox.apiRoot, SANDBOX_URL: sandbox.url },
    mount(app, database) {
      app.get('/demo/bootstrap', async (req, res) => {
        const loopback = ['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(
          req.socket.remoteAddress ?? '',
        )
        if (!loopback) {
          res.status(403).json({ error: 'The demo bootstrap answers on loopback only' })
          return
        }
        try {
          const projects = await listProjects(database.db)
          const project = projects.find((p) => p.name === DEMO_PROJECT_NAME) ?? projects[0]
          if (!project) {
            res
              .status(409)
              .json({ error: 'No project: start the server once on an empty database' })
            return
          }
          await seedDemoCatalog(database.db, project.id)
          await seedDemoFeatures(database.db, project.id)
          await setBotToken(database.db, {
            projectId: project.id,
            botToken: DEMO_BOT.token,
            secrets,
          })
          for (const key of await listApiKeys(database.db, project.id))
            if (key.name === DEMO_KEY_NAME && !key.revokedAt)
              await revokeApiKey(database.db, { projectId: project.id, keyId: key.id })
          const { key } = await createApiKey(database.db, {
            projectId: project.id,
            name: DEMO_KEY_NAME,
          })
          res.setHeader('cache-control', 'no-store')
          res.json({
            projectId: project.id,
            apiKey: key,
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
