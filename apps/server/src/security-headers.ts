import type express from 'express'
import helmet from 'helmet'
import { requestIsHttps } from './client-address.ts'

/**
 * Security headers on every answer (helmet), in two policies:
 *
 * - Everything but the Mini App (the console, /trpc, /console-api, /healthz, /admin, /telegram,
 *   404s): a strict CSP — scripts, styles and connections from this origin only, no inline script,
 *   no eval — `frame-ancestors 'none'` and `X-Frame-Options: DENY` (nobody frames the console,
 *   the Mini App on this origin included), and `Cross-Origin-Opener-Policy: same-origin`.
 * - The Mini App (`/miniapp/`): framable by Telegram Web (and the sandbox's host page in demo
 *   mode), telegram-web-app.js from telegram.org, connections to this origin only.
 *
 * The Mini App is served from the console's origin, so it is kept apart from the console's
 * session by these, together (docs/security/headers.md says why this and not another origin):
 * 1. Nothing runs in the Mini App but its own bundle: no inline script, no eval, scripts from
 *    this origin and telegram.org only. An injected `<script>` or `onerror=` does not execute.
 * 2. The session cookie is HttpOnly (no script reads it) and SameSite=Strict: inside Telegram
 *    Web the Mini App is a frame under web.telegram.org, so its requests are cross-site and
 *    carry no session at all; Telegram's apps use their own WebView cookie store. The app itself
 *    sends no cookies (`credentials: 'omit'`, apps/miniapp/src/api.ts).
 * 3. The Mini App cannot reach into a console document: the console refuses to be framed
 *    (`frame-ancestors 'none'`), and its COOP (`same-origin`) differs from the Mini App's
 *    (`unsafe-none`), so a console window the Mini App opens is put in another browsing context
 *    group: `window.open` returns no handle to script it.
 */

/** Telegram Web's origins: where Telegram frames a Mini App. */
export const TELEGRAM_FRAME_ANCESTORS = ['https://web.telegram.org', 'https://*.telegram.org']
/** Where the official telegram-web-app.js comes from (apps/miniapp/src/telegram.ts). */
export const TELEGRAM_SCRIPT_ORIGIN = 'https://telegram.org'
/** HSTS over https: a year, subdomains too (set only when the request is https). */
const HSTS_MAX_AGE_SECONDS = 31_536_000

export interface SecurityHeaderOptions {
  /** The sandbox's origin in demo mode: its Telegram host page frames the Mini App. */
  sandboxUrl?: string | undefined
}

const common = {
  baseUri: ["'none'"],
  objectSrc: ["'none'"],
  defaultSrc: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'", 'data:'],
  imgSrc: ["'self'", 'data:', 'blob:'],
  scriptSrcAttr: ["'none'"],
  // The console and the Mini App are served over http in the demo: no forced upgrade.
  upgradeInsecureRequests: null,
}

/** The strict policy: the console and every API route. */
function consoleHeaders() {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        ...common,
        scriptSrc: ["'self'"],
        // Built CSS files only; charts and Solid set styles through the CSSOM, which CSP allows.
        styleSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
  })
}

/** The sandbox's origin; on loopback both spellings, since its host page may be opened by either. */
function sandboxOrigins(url: URL): string[] {
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') return [url.origin]
  const port = url.port ? `:${url.port}` : ''
  return [`${url.protocol}//127.0.0.1${port}`, `${url.protocol}//localhost${port}`]
}

/** The Mini App's policy: what Telegram's WebView needs, nothing more. */
function miniAppHeaders(options: SecurityHeaderOptions) {
  const sandboxOrigin = options.sandboxUrl ? sandboxOrigins(new URL(options.sandboxUrl)) : []
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        ...common,
        scriptSrc: ["'self'", TELEGRAM_SCRIPT_ORIGIN],
        // telegram-web-app.js sets the theme's colours as inline style on <html>.
        styleSrc: ["'self'", "'unsafe-inline'"],
        formAction: ["'none'"],
        frameAncestors: [...TELEGRAM_FRAME_ANCESTORS, ...sandboxOrigin],
      },
    },
    // Unlike the console's: a window one opens for the other is severed from it (see above).
    crossOriginOpenerPolicy: { policy: 'unsafe-none' },
    // X-Frame-Options cannot name Telegram's origins; frame-ancestors decides.
    frameguard: false,
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
  })
}

/** `/miniapp` and everything under it (the page, its assets, `/miniapp/open`). */
export function isMiniAppPath(path: string): boolean {
  return path === '/miniapp' || path.startsWith('/miniapp/')
}

/** Mount first: every route, its errors and its 404 get the headers. */
export function securityHeaders(options: SecurityHeaderOptions = {}): express.RequestHandler {
  const strict = consoleHeaders()
  const miniApp = miniAppHeaders(options)
  return (req, res, next) => {
    // Only when the trusted protocol is https: a forged X-Forwarded-Proto adds nothing.
    if (requestIsHttps(req))
      res.setHeader(
        'Strict-Transport-Security',
        `max-age=${HSTS_MAX_AGE_SECONDS}; includeSubDomains`,
      )
    const policy = isMiniAppPath(req.path) ? miniApp : strict
    policy(req, res, next)
  }
}
