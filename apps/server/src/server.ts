import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { ApiKeyCache, createPaymentServices, type Logger } from '@e-stars/api'
import {
  createOperator,
  createProject,
  createSecrets,
  listProjects,
  seedDemoCatalog,
  seedDemoFeatures,
  seedMiniAppFeatures,
} from '@e-stars/billing'
import { type Database, openDatabase } from '@e-stars/db'
import express from 'express'
import { runAdminCommand, UsageError } from './admin.ts'
import { createApp } from './app.ts'
import { defaultConsoleDir, mountConsole } from './console.ts'
import { removeControlFile, tokenMatches, writeControlFile } from './control-file.ts'
import { seedDemoData } from './demo-data.ts'
import type { Env } from './env.ts'
import { startJobs } from './jobs.ts'
import { defaultMiniAppDir, mountMiniApp } from './miniapp.ts'
import { startReconcileJob } from './reconcile-job.ts'
import { mountRelay, startRelayForwarder } from './relay.ts'
import { loadSecretKey } from './secret-key.ts'

export interface RunningServer {
  url: string
  database: Database
  /** Set on a first start with an empty database. */
  demoProjectId: string | null
  /** The console owner created with the demo project; the password is shown once. */
  demoOperator: { email: string; password: string } | null
  /** Whether the built console is served at `/`. */
  consoleServed: boolean
  /** Whether the built reference Mini App is served at `/miniapp/`. */
  miniAppServed: boolean
  close(): Promise<void>
}

export async function startServer(
  env: Env,
  logger: Logger,
  options: {
    database?: Database
    /** Extra routes, mounted first (the demo's `/demo/bootstrap`). */
    extend?: (app: express.Express, database: Database) => void
  } = {},
): Promise<RunningServer> {
  const database =
    options.database ??
    (await openDatabase({
      url: env.DATABASE_URL,
      dataDir: env.DATA_DIR,
      poolSize: env.DB_POOL_SIZE,
    }))
  const ownsDataDir = !options.database && database.kind === 'pglite'
  const payments = createPaymentServices({
    db: database.db,
    secrets: createSecrets(loadSecretKey(env, logger)),
    telegramApiRoot: env.TELEGRAM_API_ROOT,
  })
  const forwarder = startRelayForwarder(database.db, logger, {
    intervalMs: env.RELAY_FORWARD_INTERVAL_MS,
    leaseMs: env.RELAY_LEASE_MS,
    services: payments,
  })
  const demoProjectId = await ensureDemoProject(database)
  const demoOperator = demoProjectId ? await createDemoOperator(database, demoProjectId) : null
  const demoData =
    env.DEMO_DATA === 'on' || (env.DEMO_DATA === 'auto' && !options.database && !env.DATABASE_URL)
  if (demoProjectId && demoData)
    await seedDemoData(database.db, { projectId: demoProjectId, secrets: payments.secrets })
  let consoleServed = false
  let miniAppServed = false
  let adminToken: string | null = null
  const app = createApp({
    db: database.db,
    database,
    logger,
    apiKeys: new ApiKeyCache(),
    payments,
    customerSessions: {
      initDataMaxAgeSeconds: env.MINIAPP_INIT_DATA_MAX_AGE_SECONDS,
      tokenTtlSeconds: env.MINIAPP_SESSION_TTL_SECONDS,
    },
    secureCookies: env.COOKIE_SECURE === 'auto' ? 'auto' : env.COOKIE_SECURE === 'true',
    extend(app) {
      options.extend?.(app, database)
      mountRelay(app, { db: database.db, logger, services: payments, onStored: forwarder.kick })
      miniAppServed = mountMiniApp(app, {
        db: database.db,
        dir: env.MINIAPP_DIR ?? defaultMiniAppDir,
        sandboxUrl: env.SANDBOX_URL,
      }).served
      consoleServed = mountConsole(app, {
        db: database.db,
        dir: env.CONSOLE_DIR ?? defaultConsoleDir,
        sandboxUrl: env.SANDBOX_URL,
      }).served
      app.post('/admin/command', express.json({ limit: '16kb' }), async (req, res) => {
        const loopback = ['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(
          req.socket.remoteAddress ?? '',
        )
        if (!adminToken || !loopback || !tokenMatches(adminToken, req.get('x-admin-token'))) {
          res.status(403).json({ error: 'Forbidden' })
          return
        }
        try {
          res.json(await runAdminCommand(database.db, (req.body as { argv: string[] }).argv))
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          res.status(error instanceof UsageError ? 400 : 422).json({ error: message })
        }
      })
    },
  })
  const server = app.listen(env.PORT, env.HOST)
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  const url = `http://${env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST}:${port}`
  if (ownsDataDir) adminToken = writeControlFile(env.DATA_DIR, url).token
  const jobs = startJobs(database.db, logger, {
    expiryIntervalMs: env.EXPIRY_INTERVAL_SECONDS * 1000,
  })
  const reconcileJob = startReconcileJob(database.db, logger, {
    intervalMs: env.RECONCILE_INTERVAL_SECONDS * 1000,
    services: payments,
  })
  logger.info({ url, database: database.kind }, 'e-Stars server listening')

  let closing: Promise<void> | null = null
  return {
    url,
    database,
    demoProjectId,
    demoOperator,
    consoleServed,
    miniAppServed,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeIdleConnections()
          setTimeout(() => server.closeAllConnections(), 5000).unref()
        })
        await jobs.stop()
        await Promise.all([forwarder.stop(), reconcileJob.stop()])
        if (ownsDataDir) removeControlFile(env.DATA_DIR)
        await database.close()
      })()
      return closing
    },
  }
}

/** On a first start with an empty database there is one project to play with. */
async function ensureDemoProject(database: Database): Promise<string | null> {
  if ((await listProjects(database.db)).length > 0) return null
  const project = await createProject(database.db, { name: 'Demo bot' })
  await seedDemoCatalog(database.db, project.id)
  await seedMiniAppFeatures(database.db, project.id)
  await seedDemoFeatures(database.db, project.id)
  return project.id
}

/** The demo project's owner, so a newcomer can log into the console at once. */
async function createDemoOperator(database: Database, projectId: string) {
  const email = 'demo@e-stars.local'
  const password = randomBytes(9).toString('base64url')
  await createOperator(database.db, { email, name: 'Demo owner', password, projectId })
  return { email, password }
}
