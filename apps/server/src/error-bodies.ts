import type { Logger } from '@e-stars/api'
import { isDatabaseUnavailable, serializeError, UNAVAILABLE_RETRY_AFTER_SECONDS } from '@e-stars/db'
import type express from 'express'
import { factsOf } from './request-log.ts'

/**
 * One JSON error answer for every route, in the shape its callers already read, and never a
 * stack, a file path or an error's own text (body parsers' and libraries' messages are replaced
 * by fixed words; the detail goes to the log):
 *
 * | family                | shape                                        |
 * | --------------------- | -------------------------------------------- |
 * | `/trpc`               | tRPC's own errors (its adapter answers them) |
 * | `/console-api/*`      | `{ ok: false, error: { code, message } }`    |
 * | `/telegram/*` (relay) | `{ ok: false, error_code, description }`     |
 * | everything else       | `{ error }` (admin, health, 404s)            |
 */
type Family = 'console-api' | 'telegram' | 'plain'

function familyOf(path: string): Family {
  if (path === '/console-api' || path.startsWith('/console-api/')) return 'console-api'
  if (path.startsWith('/telegram/')) return 'telegram'
  return 'plain'
}

const CODES: Record<number, string> = {
  400: 'BAD_INPUT',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  500: 'INTERNAL_SERVER_ERROR',
  503: 'SERVICE_UNAVAILABLE',
}

/** Writes `status` with `message` in the route family's shape, with the request's id to quote. */
export function sendError(
  req: express.Request,
  res: express.Response,
  status: number,
  message: string,
) {
  const family = familyOf(req.originalUrl.split('?')[0] ?? '')
  const requestId = factsOf(res)?.requestId
  res.status(status)
  if (family === 'console-api')
    res.json({ ok: false, error: { code: CODES[status] ?? 'BAD_REQUEST', message }, requestId })
  else if (family === 'telegram')
    res.json({
      ok: false,
      error_code: status,
      description: `${statusWord(status)}: ${message}`,
      requestId,
    })
  else res.json({ error: message, requestId })
}

/** Telegram's descriptions start with the status word ("Bad Request: …"). */
function statusWord(status: number): string {
  if (status === 413) return 'Request Entity Too Large'
  if (status === 404) return 'Not Found'
  if (status >= 500) return 'Internal Server Error'
  return 'Bad Request'
}

/** The last route: anything no route answered. */
export function notFound(): express.RequestHandler {
  return (req, res) => sendError(req, res, 404, 'Not found')
}

/** What a client error says: fixed words, never the parser's message (it may quote the body). */
function clientMessage(status: number, type: unknown): string {
  if (status === 413) return 'Request body too large'
  if (type === 'entity.parse.failed') return 'The body must be JSON'
  if (status === 415) return 'Unsupported content type'
  return 'Bad request'
}

/** The last middleware: errors of every route but /trpc (body parsers, a failed lookup). */
export function errorHandler(logger: Logger): express.ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) return next(error)
    const { status, type } = (error ?? {}) as { status?: unknown; type?: unknown }
    if (type === 'entity.too.large') return sendError(req, res, 413, clientMessage(413, type))
    if (typeof status === 'number' && status >= 400 && status < 500)
      return sendError(req, res, status, clientMessage(status, type))
    if (isDatabaseUnavailable(error)) {
      logger.warn({ err: serializeError(error) }, 'database unavailable')
      res.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS))
      return sendError(req, res, 503, 'Database unavailable: retry shortly')
    }
    logger.error({ err: serializeError(error) }, 'unexpected error')
    sendError(req, res, 500, 'Internal server error')
  }
}
