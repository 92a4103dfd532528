import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { SandboxError } from './errors.ts'

/** The header every control call carries: `authorization: Bearer <the run's control token>`. */
export const controlHeaders = (controlToken: string): Record<string, string> => ({
  authorization: `Bearer ${controlToken}`,
})

/** 192 random bits, fresh for each sandbox run. */
export const newControlToken = () => randomBytes(24).toString('base64url')

export interface ControlAccess {
  token: string
  /** Origins a browser may call from (the sandbox's own, plus e.g. the console's). */
  origins: ReadonlySet<string>
}

/**
 * The doors of the control API, checked before the body is read: a web page in the developer's
 * browser could otherwise drive the sandbox with a cross-origin `text/plain` POST. A foreign
 * `Origin` is refused, the run's token is required, and a POST must say it is JSON (which no
 * simple cross-origin request can).
 */
export function checkControlAccess(req: IncomingMessage, access: ControlAccess): void {
  checkOrigin(req, access.origins)
  if (!tokenMatches(access.token, bearerOf(req.headers.authorization)))
    throw new SandboxError(
      'UNAUTHORIZED',
      'the control API needs this run’s token: authorization: Bearer <token>',
    )
  if (req.method === 'POST' && !isJson(req.headers['content-type']))
    throw new SandboxError('UNSUPPORTED_MEDIA_TYPE', 'content-type must be application/json')
}

/** No `Origin` (curl, a server, a test) or one of ours; anything else is another site's page. */
export function checkOrigin(req: IncomingMessage, origins: ReadonlySet<string>): void {
  const origin = req.headers.origin
  if (origin !== undefined && !origins.has(origin))
    throw new SandboxError('FORBIDDEN', 'requests from other origins are refused')
}

export function isJson(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json'
}

/** The sandbox's own origin, with `localhost` and `127.0.0.1` taken as the same machine. */
export function ownOrigins(url: string, extra: readonly string[] = []): Set<string> {
  const own = new URL(url)
  const origins = new Set([own.origin, ...extra.map((o) => new URL(o).origin)])
  if (own.hostname === '127.0.0.1') origins.add(`${own.protocol}//localhost:${own.port}`)
  return origins
}

function bearerOf(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '')
  return match?.[1]
}

function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (!presented) return false
  const a = Buffer.from(expected)
  const b = Buffer.from(presented)
  return a.length === b.length && timingSafeEqual(a, b)
}
