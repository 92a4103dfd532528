import type { IncomingHttpHeaders } from 'node:http'
import { CUSTOMER_TOKEN_PREFIX } from '@e-stars/billing'
import { type ApiDependencies, createInnerContext, type SessionCookie } from './trpc.ts'

/** The console's session cookie. */
export const SESSION_COOKIE = 'estars_session'

export interface HttpRequest {
  headers: IncomingHttpHeaders
  socket?: { remoteAddress?: string | undefined; encrypted?: boolean } | undefined
  ip?: string | undefined
  protocol?: string | undefined
}

interface HttpResponse {
  appendHeader?(name: string, value: string | string[]): unknown
  setHeader(name: string, value: string | string[]): unknown
  getHeader?(name: string): unknown
}

/** Reads one cookie from a `Cookie` header. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1) continue
    if (part.slice(0, eq).trim() !== name) continue
    const value = part.slice(eq + 1).trim()
    try {
      return decodeURIComponent(value)
    } catch {
      return null
    }
  }
  return null
}

/**
 * `Set-Cookie` for the session: httpOnly (scripts never see it), SameSite=Strict (never sent on a
 * request another site starts, nor from a frame under another site: the Mini App inside Telegram
 * Web), path `/`, Secure when the request came over https (directly or via a trusted proxy).
 */
export function sessionCookieHeader(
  token: string | null,
  options: { expiresAt?: Date; secure: boolean },
): string {
  const parts = [
    `${SESSION_COOKIE}=${token ? encodeURIComponent(token) : ''}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
  ]
  if (token && options.expiresAt) parts.push(`Expires=${options.expiresAt.toUTCString()}`)
  else parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'Max-Age=0')
  if (options.secure) parts.push('Secure')
  return parts.join('; ')
}

export interface HttpContextOptions {
  /** `auto` (default): Secure cookies when the request is https (see `requestIsHttps`). */
  secureCookies?: boolean | 'auto' | undefined
  /** The caller's address after the trusted proxies (the server's TRUST_PROXY); per-IP limits key on it. */
  clientAddress?: ((req: HttpRequest) => string | null) | undefined
  /**
   * Whether the request is https: the server's answer follows its trusted proxies. Without it,
   * only a TLS socket is https: an `X-Forwarded-Proto` header is anyone's word.
   */
  requestIsHttps?: ((req: HttpRequest) => boolean) | undefined
}

/**
 * Reads the API key from `Authorization: Bearer …`, the console session from its cookie and the
 * CSRF token from `x-csrf-token`; everything else comes from `deps`.
 */
export function createHttpContextFactory(deps: ApiDependencies, options: HttpContextOptions = {}) {
  return ({ req, res }: { req: HttpRequest; res?: HttpResponse }) => {
    const header = req.headers.authorization
    const bearer = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : null
    // One header, two kinds of bearer: a Mini App customer token (`ecs.…`) or a project API key.
    const customerToken = bearer?.startsWith(CUSTOMER_TOKEN_PREFIX) ? bearer : null
    const apiKey = customerToken ? null : bearer
    const csrf = req.headers['x-csrf-token']
    const secure =
      options.secureCookies === undefined || options.secureCookies === 'auto'
        ? (options.requestIsHttps?.(req) ?? Boolean(req.socket?.encrypted))
        : options.secureCookies
    const write = (value: string) => {
      if (!res) return
      if (res.appendHeader) res.appendHeader('Set-Cookie', value)
      else res.setHeader('Set-Cookie', value)
    }
    const sessionCookie: SessionCookie = {
      set: (token, expiresAt) => write(sessionCookieHeader(token, { expiresAt, secure })),
      clear: () => write(sessionCookieHeader(null, { secure })),
    }
    return createInnerContext(deps, {
      apiKey,
      customerToken,
      sessionToken: readCookie(req.headers.cookie, SESSION_COOKIE),
      csrfToken: Array.isArray(csrf) ? (csrf[0] ?? null) : (csrf ?? null),
      clientIp: options.clientAddress
        ? options.clientAddress(req)
        : (req.ip ?? req.socket?.remoteAddress ?? null),
      sessionCookie,
      requestId: requestIdOf(res),
    })
  }
}

/** The id the server's request-id middleware put on the response, if any. */
function requestIdOf(res: HttpResponse | undefined): string | null {
  const value = res?.getHeader?.('x-request-id')
  return typeof value === 'string' && value ? value : null
}
