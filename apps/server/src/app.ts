import { type ApiDependencies, appRouter, createHttpContextFactory } from '@e-stars/api'
import { type Database, serializeError, UNAVAILABLE_RETRY_AFTER_SECONDS } from '@e-stars/db'
import { createExpressMiddleware } from '@trpc/server/adapters/express'
import { sql } from 'drizzle-orm'
import express from 'express'
import { createAttemptLimits } from './attempt-limits.ts'
import { clientAddress, requestIsHttps, type TrustProxy } from './client-address.ts'
import { errorHandler, notFound } from './error-bodies.ts'
import { securityHeaders } from './security-headers.ts'

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
  app.get('/healthz', async (_req, res) => {
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        options.db.execute(sql`select 1`),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer from the database in ${HEALTH_TIMEOUT_MS} ms`)),
            HEALTH_TIMEOUT_MS,
          )
        }),
      ])
      res.json({ ok: true, database: options.database.kind })
    } catch (error) {
      options.logger.warn({ err: serializeError(error) }, 'health check failed')
      setRetryAfter(res)
      res.status(503).json({ ok: false, database: options.database.kind })
    } finally {
      clearTimeout(timer)
    }
  })
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
