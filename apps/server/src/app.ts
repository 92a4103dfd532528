import { readFileSync } from 'node:fs'
import { type ApiDependencies, appRouter, createHttpContextFactory } from '@e-stars/api'
import {
  type Database,
  migrationsFolder,
  rows,
  serializeError,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
} from '@e-stars/db'
import { createExpressMiddleware } from '@trpc/server/adapters/express'
import { getHTTPStatusCodeFromError } from '@trpc/server/http'
import { sql } from 'drizzle-orm'
import express from 'express'
import { createAttemptLimits } from './attempt-limits.ts'
import { clientAddress, requestIsHttps, type TrustProxy } from './client-address.ts'
import { errorHandler, notFound } from './error-bodies.ts'
import { createMetrics, metricsTokenMatches, routesOf, type ServerMetrics } from './metrics.ts'
import { type RequestLogOptions, requestIds, requestLog } from './request-log.ts'
import { securityHeaders } from './security-headers.ts'

/** What readiness reads besides the database: set by server.ts as it starts and drains. */
export interface Lifecycle {
  /** Set on SIGTERM: `/readyz` answers 503 and answers close their connection. */
  draining: boolean
  /** Whether the background jobs are scheduled (false before they start and once stopped). */
  jobsRunning: boolean
}

export interface AppOptions extends ApiDependencies {
  database: Database
  /** Extra routes mounted before tRPC (admin, webhook relay, static console). */
  extend?: (app: express.Express) => void
  /** Secure flag of the console session cookie; `auto` follows the request's protocol. */
  secureCookies?: boolean | 'auto' | undefined
  /** Proxies trusted for the client's address and protocol (TRUST_PROXY); off by default. */
  trustProxy?: TrustProxy | undefined
  /** The sandbox in demo mode: its host page may frame the Mini App (security-headers.ts). */
  sandboxUrl?: string | undefined
  /** Start-up and drain state for `/readyz`; a test's app without one is ready once it answers. */
  lifecycle?: Lifecycle | undefined
  /** The metrics this app records; server.ts shares them with the METRICS_PORT listener. */
  metrics?: ServerMetrics | undefined
  /** `/metrics` on this app, for `Authorization: Bearer <token>` only; unset: not served here. */
  metricsToken?: string | undefined
  /** Which request lines are written at info, and what is slow (LOG_REQUESTS, SLOW_REQUEST_MS). */
  requestLog?: RequestLogOptions | undefined
}

/**
 * The largest request body `/trpc` reads, in bytes; a larger one is refused with 413 as soon as
 * this many bytes have arrived, never parsed. The largest single call the input schemas allow is
 * about 35 KB (a `metadata` of 32 keys × 1,064 characters; about 200 KB if every character is
 * `\u`-escaped), and a full batch of 100 ordinary bot calls is under 100 KB, so 1 MiB refuses
 * only what no client sends (the attack's 3 MB body) or a batch that should be split.
 */
export const MAX_BODY_BYTES = 1024 * 1024
/** Calls in one batched request; more answer 400 BAD_REQUEST. */
export const MAX_BATCH_SIZE = 100
/** `/healthz` answers 503 rather than wait longer than this for the database. */
const HEALTH_TIMEOUT_MS = 2000

/** The seconds a TOO_MANY_REQUESTS answer asks the caller to wait (its cause knows them). */
function retryAfterOf(error: { code: string; cause?: unknown }): number | null {
  const seconds = (error.cause as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds
  return error.code === 'TOO_MANY_REQUESTS' && typeof seconds === 'number' ? seconds : null
}

/** `Retry-After` on every answer that says "the database is unavailable". */
export function setRetryAfter(res: express.Response) {
  res.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS))
}

export function createApp(options: AppOptions) {
  const app = express()
  app.disable('x-powered-by')
  // Production settings whatever NODE_ENV says: Express never renders an error page with a stack.
  app.set('env', 'production')
  app.use(securityHeaders({ sandboxUrl: options.sandboxUrl }))
  // `req.ip` and `req.protocol` read X-Forwarded-* only from these proxies (client-address.ts).
  app.set('trust proxy', options.trustProxy ?? false)
  app.use(requestIds())
  const metrics = options.metrics ?? createMetrics(options.db)
  app.use(metrics.observe)
  app.use(requestLog(options.logger, routesOf, options.requestLog))
  const lifecycle = options.lifecycle
  app.use((_req, res, next) => {
    // A draining replica tells keep-alive clients to reconnect, to a replica that stays.
    if (lifecycle?.draining) res.set('Connection', 'close')
    next()
  })
  // Alive: the process answers. The database is `/readyz`'s business (a load balancer's).
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true })
  })
  app.get('/readyz', async (_req, res) => {
    const checks = await readiness(options, lifecycle)
    const ready = Object.values(checks).every(Boolean)
    if (!ready) {
      if (!checks.database) setRetryAfter(res)
      res.status(503)
    }
    res.json({ ok: ready, database: options.database.kind, checks })
  })
  if (options.metricsToken) {
    const token = options.metricsToken
    app.get('/metrics', async (req, res) => {
      if (!metricsTokenMatches(token, req.get('authorization'))) {
        res.set('WWW-Authenticate', 'Bearer')
        res.status(401).json({ error: 'Unauthorized' })
        return
      }
      await sendMetrics(metrics, res)
    })
  }
  options.extend?.(app)
  app.use(
    '/trpc',
    createExpressMiddleware({
      router: appRouter,
      // Sign-in and login limits always hold over HTTP, counted where every replica sees them.
      createContext: createHttpContextFactory(
        { ...options, limits: options.limits ?? createAttemptLimits(options.db) },
        { secureCookies: options.secureCookies, clientAddress, requestIsHttps },
      ),
      maxBatchSize: MAX_BATCH_SIZE,
      maxBodySize: MAX_BODY_BYTES,
      onError({ error, path, req }) {
        metrics.procedureFailed(
          req.res as express.Response,
          path,
          getHTTPStatusCodeFromError(error),
        )
      },
      responseMeta({ errors }) {
        // The procedures map an unreachable database to SERVICE_UNAVAILABLE (packages/api trpc.ts).
        if (errors.some((error) => error.code === 'SERVICE_UNAVAILABLE'))
          return { headers: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) } }
        const waits = errors.map(retryAfterOf).filter((wait) => wait !== null)
        return waits.length > 0 ? { headers: { 'retry-after': String(Math.max(...waits)) } } : {}
      },
    }),
  )
  app.use(notFound())
  // Errors of the other routes (body parsers, a failed lookup): JSON in the route's own shape.
  app.use(errorHandler(options.logger))
  return app
}

/** Prometheus text, or 503 when it cannot be produced. */
export async function sendMetrics(metrics: ServerMetrics, res: express.Response) {
  try {
    const { contentType, body } = await metrics.text()
    res.type(contentType).send(body)
  } catch {
    res.status(503).json({ error: 'Metrics unavailable' })
  }
}

/** The migrations this build ships (drizzle's journal); the database must have applied them all. */
const SHIPPED_MIGRATIONS = (
  JSON.parse(readFileSync(`${migrationsFolder}/meta/_journal.json`, 'utf8')) as {
    entries: unknown[]
  }
).entries.length

/** Each readiness condition; a slow database counts as unreachable after HEALTH_TIMEOUT_MS. */
async function readiness(options: AppOptions, lifecycle: Lifecycle | undefined) {
  let timer: NodeJS.Timeout | undefined
  let database = false
  let migrations = false
  try {
    const [row] = await Promise.race([
      rows<{ applied: number }>(
        options.db,
        sql`select count(*)::int as applied from drizzle.__drizzle_migrations`,
      ),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer from the database in ${HEALTH_TIMEOUT_MS} ms`)),
          HEALTH_TIMEOUT_MS,
        )
      }),
    ])
    database = true
    migrations = (row?.applied ?? 0) >= SHIPPED_MIGRATIONS
  } catch (error) {
    options.logger.warn({ err: serializeError(error) }, 'readiness check failed')
  } finally {
    clearTimeout(timer)
  }
  return {
    accepting: !(lifecycle?.draining ?? false),
    database,
    migrations,
    jobs: lifecycle?.jobsRunning ?? true,
  }
}
