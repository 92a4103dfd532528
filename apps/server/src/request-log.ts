import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import { ApiKeyCache, type Logger } from '@e-stars/api'
import type express from 'express'

/** What every log line of one request carries (logger.ts mixes it in), and its own line at the end. */
export interface RequestFacts {
  requestId: string
  /** The project whose API key the request carried, once the key was resolved. */
  projectId?: string
}

export const requestContext = new AsyncLocalStorage<RequestFacts>()

/** The current request's facts, for the logger's mixin and the error bodies. */
export function currentRequest(): RequestFacts | undefined {
  return requestContext.getStore()
}

/**
 * A caller's `X-Request-Id` is kept when it is short and made of safe characters (a proxy's or
 * a client's correlation id); anything else (too long, control characters, quotes) is replaced,
 * never logged raw.
 */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/

export function requestIdOf(header: string | undefined): string {
  return header !== undefined && SAFE_REQUEST_ID.test(header) ? header : randomUUID()
}

/** The first middleware: the id, echoed in `X-Request-Id`, and the context every log line reads. */
export function requestIds(): express.RequestHandler {
  return (req, res, next) => {
    const facts: RequestFacts = { requestId: requestIdOf(req.get('x-request-id')) }
    res.locals.request = facts
    res.set('X-Request-Id', facts.requestId)
    requestContext.run(facts, next)
  }
}

/** The facts of the request `res` answers (set by `requestIds`), outside its async context too. */
export function factsOf(res: express.Response): RequestFacts | undefined {
  return res.locals.request as RequestFacts | undefined
}

/**
 * The API key cache the server uses: it also notes the key's project on the request, so the
 * request's log line names its project (the key and the customer never appear).
 */
export class RequestKeyCache extends ApiKeyCache {
  override async resolve(...args: Parameters<ApiKeyCache['resolve']>) {
    const owner = await super.resolve(...args)
    const facts = currentRequest()
    if (facts && owner) facts.projectId = owner.projectId
    return owner
  }
}

/** Probes are not logged: a load balancer asks every few seconds. */
const UNLOGGED = new Set(['/healthz', '/readyz', '/metrics'])

/** Which request lines are written at `info` (LOG_REQUESTS), and what counts as slow (SLOW_REQUEST_MS). */
export interface RequestLogOptions {
  /** `all`: every request at info; `failed` (default): successful fast ones at debug. */
  requests?: 'failed' | 'all' | undefined
  /** A request at least this long is logged at warn; default 1000 ms. */
  slowMs?: number | undefined
}

/** A logger that may also have `debug` and pino's `isLevelEnabled` (the server's does). */
type LevelledLogger = Logger & {
  debug?(obj: object, msg?: string): void
  isLevelEnabled?(level: string): boolean
}

/**
 * The level of a request's line: a 5xx or a slow request at `warn` (the error itself is logged at
 * `error` where it happened), a 4xx at `info` (a refusal: bad input, no key, no credits), any other
 * at `debug`, or at `info` with `requests: 'all'`. A bot calls `usage.consume` on every answer:
 * one info line per call would be most of the log and a measurable share of the server's CPU.
 */
export function requestLogLevel(
  status: number,
  durationMs: number,
  options: RequestLogOptions = {},
): 'debug' | 'info' | 'warn' {
  if (status >= 500 || durationMs >= (options.slowMs ?? 1000)) return 'warn'
  if (status >= 400 || options.requests === 'all') return 'info'
  return 'debug'
}

/**
 * One line per request when it is answered: id, method, API family, procedures or route
 * template, project, status and duration, at the level `requestLogLevel` gives. Never the URL's
 * query (tRPC GET inputs), a body or a header: those can hold keys and init data. A line below
 * the logger's level is not built at all.
 */
export function requestLog(
  logger: LevelledLogger,
  routesOf: (req: express.Request, res: express.Response) => { api: string; routes: string[] },
  options: RequestLogOptions = {},
): express.RequestHandler {
  const debugOn = () => Boolean(logger.debug) && (logger.isLevelEnabled?.('debug') ?? true)
  return (req, res, next) => {
    const started = process.hrtime.bigint()
    res.once('finish', () => {
      if (UNLOGGED.has(req.path)) return
      const durationMs = Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10
      const level = requestLogLevel(res.statusCode, durationMs, options)
      if (level === 'debug' && !debugOn()) return
      const facts = factsOf(res)
      const { api, routes } = routesOf(req, res)
      const line = {
        requestId: facts?.requestId,
        method: req.method,
        api,
        ...(api === 'trpc' ? { procedures: routes } : { route: routes[0] }),
        projectId: facts?.projectId,
        status: res.statusCode,
        durationMs,
        ...(level === 'warn' && res.statusCode < 500 ? { slow: true } : {}),
      }
      if (level === 'debug') logger.debug!(line, 'request')
      else logger[level](line, 'request')
    })
    next()
  }
}
