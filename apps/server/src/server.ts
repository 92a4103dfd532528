import type { Server } from 'node:http'
import { type AddressInfo, createServer } from 'node:net'
import { createPaymentServices, type Logger } from '@e-stars/api'
import type { Database } from '@e-stars/db'
import express from 'express'
import { AdminCommandError, runAdminCommand } from './admin.ts'
import { mountApiDocs } from './api-docs.ts'
import { createApp, type Lifecycle, sendMetrics } from './app.ts'
import { isLoopbackRequest } from './client-address.ts'
import { defaultConsoleDir, mountConsole } from './console.ts'
import { removeControlFile, tokenMatches, writeControlFile } from './control-file.ts'
import { ConfigError, type Env } from './env.ts'
import {
  assertDataDirUsable,
  demoDataWanted,
  type FirstStart,
  openFirstStart,
} from './first-start.ts'
import { startJobs } from './jobs.ts'
import { startMarginAlertsJob } from './margin-alerts-job.ts'
import { createMetrics, metricsTokenMatches, type ServerMetrics } from './metrics.ts'
import { defaultMiniAppDir, mountMiniApp } from './miniapp.ts'
import { createOutbound, ownPortsOf, privateTargetsAllowed, targetRefusal } from './outbound.ts'
import { startReconcileJob } from './reconcile-job.ts'
import { mountRelay, startRelayForwarder } from './relay.ts'
import { RequestKeyCache } from './request-log.ts'
import { mountRest } from './rest.ts'
import { loadSecrets } from './secret-key.ts'

/** How long an idle keep-alive connection stays open (the load balancer's idle timeout is shorter). */
export const KEEP_ALIVE_MS = 65_000

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
  /** The METRICS_PORT listener's URL (`…/metrics`), or null when it is off. */
  metricsUrl: string | null
  close(): Promise<void>
}

export async function startServer(
  env: Env,
  logger: Logger,
  options: {
    /** A database the caller opened (a test's); the demo is seeded into it when it is empty. */
    database?: Database
    /** What `openFirstStart` returned to `main`, which opens the database before the sandbox. */
    firstStart?: FirstStart
    /** Extra routes, mounted first (the demo's `/demo/bootstrap`). */
    extend?: (app: express.Express, database: Database) => void
  } = {},
): Promise<RunningServer> {
  if (!options.database && !options.firstStart && !env.DATABASE_URL)
    assertDataDirUsable(env.DATA_DIR)
  const secrets = loadSecrets(env, logger)
  const { database, demoProjectId, demoOperator } =
    options.firstStart ??
    (await openFirstStart(env, {
      database: options.database,
      secrets,
      demoData: demoDataWanted(env, Boolean(options.database)),
    }))
  const ownsDataDir = !options.database && database.kind === 'pglite'
  const payments = createPaymentServices({
    db: database.db,
    secrets,
    telegramApiRoot: env.TELEGRAM_API_ROOT,
  })
  // One guard for every request to a tenant's URL; this server's own ports are known once it listens.
  let listeningPort: number | null = null
  const allowPrivate = privateTargetsAllowed(env)
  const outbound = createOutbound({
    allowPrivate,
    ownPorts: () => ownPortsOf(env, listeningPort),
    logger,
  })
  const forwarder = startRelayForwarder(database.db, logger, {
    intervalMs: env.RELAY_FORWARD_INTERVAL_MS,
    leaseMs: env.RELAY_LEASE_MS,
    services: payments,
    outbound,
  })
  let consoleServed = false
  let miniAppServed = false
  let adminToken: string | null = null
  // One key cache for /trpc and /api/v1: a key the console revokes stops both at once.
  // It also names the key's project in the request's log line (request-log.ts).
  const apiKeys = new RequestKeyCache()
  const lifecycle: Lifecycle = { draining: false, jobsRunning: false }
  const metrics = createMetrics(database.db)
  const app = createApp({
    db: database.db,
    database,
    logger,
    apiKeys,
    payments,
    customerSessions: {
      initDataMaxAgeSeconds: env.MINIAPP_INIT_DATA_MAX_AGE_SECONDS,
      tokenTtlSeconds: env.MINIAPP_SESSION_TTL_SECONDS,
    },
    secureCookies: env.COOKIE_SECURE === 'auto' ? 'auto' : env.COOKIE_SECURE === 'true',
    trustProxy: env.TRUST_PROXY,
    sandboxUrl: env.SANDBOX_URL,
    lifecycle,
    metrics,
    metricsToken: env.METRICS_TOKEN,
    requestLog: { requests: env.LOG_REQUESTS, slowMs: env.SLOW_REQUEST_MS },
    targetRule: (url) => targetRefusal(url, { allowPrivate }),
    extend(app) {
      options.extend?.(app, database)
      mountRest(app, { db: database.db, logger, payments, apiKeys })
      mountApiDocs(app)
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
        sandboxToken: env.SANDBOX_TOKEN,
      }).served
      // Who asks comes first: a caller who may not run commands never has its body parsed.
      const adminRefusal: express.RequestHandler = (req, res, next) => {
        if (
          adminToken &&
          isLoopbackRequest(req) &&
          tokenMatches(adminToken, req.get('x-admin-token'))
        )
          return next()
        res.status(403).json({ error: 'Forbidden' })
      }
      app.post(
        '/admin/command',
        adminRefusal,
        express.json({ limit: '16kb' }),
        async (req, res) => {
          try {
            res.json(await runAdminCommand(database.db, (req.body as { argv?: unknown }).argv))
          } catch (error) {
            if (error instanceof AdminCommandError) {
              res.status(error.status).json({ error: error.message })
              return
            }
            logger.error({ err: error }, 'admin command failed')
            res.status(500).json({ error: 'The command failed unexpectedly; see the server log' })
          }
        },
      )
    },
  })
  const server = app.listen(env.PORT, env.HOST)
  // Idle keep-alive sockets stay open well past the clients' reuse window (undici reuses one until
  // a second before the server's advertised timeout): with Node's 5 s default, a busy client
  // reuses a socket the server is closing and the call dies with ECONNRESET. SIGTERM's close()
  // still ends idle sockets at once.
  server.keepAliveTimeout = KEEP_ALIVE_MS
  server.headersTimeout = KEEP_ALIVE_MS + 1000
  const metricsServer = env.METRICS_PORT === undefined ? null : metricsApp(metrics, env)
  try {
    // Both listeners are waited for together: one's 'listening' may fire while awaiting the other.
    await Promise.all([
      listening(server, 'PORT', env.HOST, env.PORT),
      metricsServer && listening(metricsServer, 'METRICS_PORT', env.HOST, env.METRICS_PORT ?? 0),
    ])
  } catch (error) {
    server.close()
    metricsServer?.close()
    await forwarder.stop().catch(() => {})
    if (!options.database && !options.firstStart) await database.close().catch(() => {})
    throw error
  }
  const { port } = server.address() as AddressInfo
  listeningPort = port
  const origin = (at: number) =>
    `http://${env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST}:${at}`
  const url = origin(port)
  const metricsUrl = metricsServer
    ? `${origin((metricsServer.address() as AddressInfo).port)}/metrics`
    : null
  if (ownsDataDir) adminToken = writeControlFile(env.DATA_DIR, url).token
  const jobs = startJobs(database.db, logger, {
    expiryIntervalMs: env.EXPIRY_INTERVAL_SECONDS * 1000,
    webhooks: {
      outbound,
      secrets,
      leaseMs: env.WEBHOOK_LEASE_MS,
      intervalMs: env.WEBHOOK_INTERVAL_MS,
    },
  })
  const reconcileJob = startReconcileJob(database.db, logger, {
    intervalMs: env.RECONCILE_INTERVAL_SECONDS * 1000,
    services: payments,
  })
  const marginAlertsJob = startMarginAlertsJob(database.db, logger)
  lifecycle.jobsRunning = true
  logger.info({ url, database: database.kind }, 'e-Stars server listening')

  let closing: Promise<void> | null = null
  return {
    url,
    database,
    demoProjectId,
    demoOperator,
    consoleServed,
    miniAppServed,
    metricsUrl,
    close() {
      closing ??= (async () => {
        // Not ready first: the load balancer stops sending while the port still answers.
        lifecycle.draining = true
        if (env.DRAIN_DELAY_MS > 0) await new Promise((r) => setTimeout(r, env.DRAIN_DELAY_MS))
        // Jobs take no new run; a run in progress finishes (or, for a forward, its lease lapses).
        const jobsStopped = Promise.all([
          jobs.stop(),
          forwarder.stop(),
          reconcileJob.stop(),
          marginAlertsJob.stop(),
        ])
        await Promise.all([drained(server, env.DRAIN_TIMEOUT_MS), jobsStopped])
        lifecycle.jobsRunning = false
        if (metricsServer) await drained(metricsServer, 0)
        if (ownsDataDir) removeControlFile(env.DATA_DIR)
        await database.close()
        logger.info({ database: database.kind }, 'e-Stars server drained and closed')
      })()
      return closing
    },
  }
}

/**
 * Stops accepting, closes idle keep-alive sockets, lets requests in flight finish for up to
 * `timeoutMs`, then cuts what is left.
 */
function drained(server: Server, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeIdleConnections()
    setTimeout(() => server.closeAllConnections(), timeoutMs).unref()
  })
}

function listening(server: Server, setting: string, host: string, port: number) {
  return new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', (error) => reject(listenProblem(error, setting, host, port) ?? error))
  })
}

/** METRICS_PORT's listener: `/metrics` only (with METRICS_TOKEN when one is set), nothing else. */
function metricsApp(metrics: ServerMetrics, env: Env): Server {
  const app = express()
  app.disable('x-powered-by')
  app.get('/metrics', async (req, res) => {
    if (env.METRICS_TOKEN && !metricsTokenMatches(env.METRICS_TOKEN, req.get('authorization'))) {
      res.status(401).json({ error: 'Unauthorized' })
      return
    }
    await sendMetrics(metrics, res)
  })
  app.use((_req, res) => {
    res.status(404).json({ error: 'Not found' })
  })
  return app.listen(env.METRICS_PORT ?? 0, env.HOST)
}

/** A port that cannot be listened on, as one line naming its setting. */
export function listenProblem(
  error: unknown,
  setting: string,
  host: string,
  port: number,
): ConfigError | null {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`
  if (code === 'EADDRINUSE')
    return new ConfigError(
      `${setting}: ${where} is already in use; stop the other process or choose another ${setting}`,
    )
  if (code === 'EACCES')
    return new ConfigError(
      `${setting}: not allowed to listen on ${where} (EACCES); choose a port above 1023`,
    )
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new ConfigError(`HOST: ${host} is not an address of this machine (${code})`)
  return null
}

/** Fails fast, before anything starts, when a fixed port cannot be listened on. */
export async function assertPortFree(setting: string, host: string, port: number): Promise<void> {
  if (port === 0) return
  const probe = createServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error) => reject(listenProblem(error, setting, host, port) ?? error))
    probe.listen(port, host, () => probe.close(() => resolve()))
  })
}
