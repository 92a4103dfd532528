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

/**
 * One line per request when it is answered: id, method, API family, procedures or route
 * template, project, status and duration. Never the URL's query (tRPC GET inputs), a body or a
 * header: those can hold keys and init data.
 */
export function requestLog(
  logger: Logger,
  routesOf: (req: express.Request, res: express.Response) => { api: string; routes: string[] },
): express.RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint()
    res.once('finish', () => {
      if (UNLOGGED.has(req.path)) return
      const facts = factsOf(res)
      const { api, routes } = routesOf(req, res)
      logger.info(
        {
          requestId: facts?.requestId,
          method: req.method,
          api,
          ...(api === 'trpc' ? { procedures: routes } : { route: routes[0] }),
          projectId: facts?.projectId,
          status: res.statusCode,
          durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10,
        },
        'request',
      )
    })
    next()
  }
}
