import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTestDatabase } from '@e-stars/db/testing'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../src/app.ts'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

/**
 * Every route family answers with the security headers: the strict policy everywhere but the
 * Mini App, which gets what Telegram's WebView needs and no more; and a Mini App document has no
 * way to the console's session (its scripts, framing, opener and cookie rules below).
 */
const silent = { info() {}, warn() {}, error() {} }
let dirs: string
let sandbox: Sandbox
let server: RunningServer

/** A built app's shape: an index.html loading one hashed script and one stylesheet. */
function fakeBuild(root: string, name: string) {
  const dir = join(root, name)
  mkdirSync(join(dir, 'assets'), { recursive: true })
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><script type="module" src="./assets/index.js"></script>',
  )
  writeFileSync(join(dir, 'assets', 'index.js'), 'export {}')
  return dir
}

beforeAll(async () => {
  dirs = mkdtempSync(join(tmpdir(), 'estars-headers-'))
  sandbox = await createSandbox({ users: [{ id: 2_000_001, firstName: 'Alice' }] })
  server = await startServer(
    parseEnv({
      PORT: '0',
      SANDBOX_URL: sandbox.url,
      SANDBOX_TOKEN: sandbox.controlToken,
      CONSOLE_DIR: fakeBuild(dirs, 'console'),
      MINIAPP_DIR: fakeBuild(dirs, 'miniapp'),
      RECONCILE_INTERVAL_SECONDS: '0',
    }),
    silent,
    { database: await createTestDatabase() },
  )
})
afterAll(async () => {
  await server?.close()
  await sandbox?.close()
  rmSync(dirs, { recursive: true, force: true })
})

const get = (path: string, init: RequestInit = {}) =>
  fetch(`${server.url}${path}`, { redirect: 'manual', ...init })

/** `script-src 'self'` → { 'script-src': ["'self'"] }. */
function directives(response: Response): Record<string, string[]> {
  const header = response.headers.get('content-security-policy')
  expect(header, `no CSP on ${response.url}`).toBeTruthy()
  return Object.fromEntries(
    header!
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter((words) => words[0])
      .map(([name, ...values]) => [name!, values]),
  )
}

/** The strict policy's routes: the console, its assets and API, every API and the 404s. */
const STRICT_ROUTES: Array<[string, RequestInit?]> = [
  ['/'],
  ['/customers/some-client-side-route', { headers: { accept: 'text/html' } }],
  ['/assets/index.js'],
  ['/trpc/health'],
  ['/trpc/operator.auth.login', { method: 'POST', body: '{}' }],
  ['/console-api/config'],
  ['/console-api/sandbox/state'],
  ['/telegram/00000000-0000-4000-8000-000000000000', { method: 'POST', body: '{}' }],
  ['/healthz'],
  ['/admin/command', { method: 'POST', body: '{}' }],
  ['/nowhere', { headers: { accept: 'application/json' } }],
]

const MINIAPP_ROUTES = ['/miniapp/', '/miniapp/assets/index.js', '/miniapp', '/miniapp/open']

describe('the strict policy: everything but the Mini App', () => {
  it.each(STRICT_ROUTES)('%s', async (path, init) => {
    const response = await get(path, init)
    const csp = directives(response)
    expect(csp['default-src']).toEqual(["'self'"])
    expect(csp['script-src']).toEqual(["'self'"])
    expect(csp['style-src']).toEqual(["'self'"])
    expect(csp['script-src-attr']).toEqual(["'none'"])
    expect(csp['object-src']).toEqual(["'none'"])
    expect(csp['base-uri']).toEqual(["'none'"])
    expect(csp['frame-ancestors']).toEqual(["'none'"])
    expect(response.headers.get('x-frame-options')).toBe('DENY')
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(response.headers.get('referrer-policy')).toBe('no-referrer')
    expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin')
    expect(response.headers.get('x-powered-by')).toBeNull()
    // Plain http: no HSTS (a browser would pin https on a host that has none).
    expect(response.headers.get('strict-transport-security')).toBeNull()
  })
})

describe("the Mini App's policy: what Telegram's WebView needs", () => {
  it.each(MINIAPP_ROUTES)('%s', async (path) => {
    const response = await get(path)
    const csp = directives(response)
    expect(csp['frame-ancestors']).toEqual([
      'https://web.telegram.org',
      'https://*.telegram.org',
      `http://127.0.0.1:${new URL(sandbox.url).port}`,
      `http://localhost:${new URL(sandbox.url).port}`,
    ])
    expect(csp['script-src']).toEqual(["'self'", 'https://telegram.org'])
    expect(csp['script-src-attr']).toEqual(["'none'"])
    expect(csp['connect-src']).toEqual(["'self'"])
    expect(csp['form-action']).toEqual(["'none'"])
    expect(csp['object-src']).toEqual(["'none'"])
    expect(csp['base-uri']).toEqual(["'none'"])
    // Telegram Web frames it: no X-Frame-Options, which could not name telegram.org.
    expect(response.headers.get('x-frame-options')).toBeNull()
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(response.headers.get('referrer-policy')).toBe('no-referrer')
  })
})

describe('a Mini App document cannot use the console’s session', () => {
  it('nothing but its own bundle and Telegram’s script runs there: no inline script, no eval', async () => {
    const script = directives(await get('/miniapp/'))['script-src']!
    expect(script.some((value) => /unsafe|nonce-|sha\d+-/.test(value))).toBe(false)
  })

  it('it cannot frame the console, nor keep a handle on a console window it opens', async () => {
    const console = await get('/')
    const miniApp = await get('/miniapp/')
    expect(directives(console)['frame-ancestors']).toEqual(["'none'"])
    // Different opener policies put the two documents in different browsing context groups.
    expect(console.headers.get('cross-origin-opener-policy')).toBe('same-origin')
    expect(miniApp.headers.get('cross-origin-opener-policy')).toBe('unsafe-none')
  })

  it('the session cookie is HttpOnly and SameSite=Strict', async () => {
    const response = await get('/trpc/operator.auth.login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(server.demoOperator),
    })
    expect(response.status).toBe(200)
    const cookie = response.headers.get('set-cookie')!
    expect(cookie.split('; ')).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict']))
  })

  it('the built pages need no inline script or style (so the strict CSP holds)', () => {
    for (const app of ['console', 'miniapp']) {
      const html = readFileSync(
        fileURLToPath(new URL(`../../${app}/index.html`, import.meta.url)),
        'utf8',
      )
      for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/\ssrc=/)
      expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i)
    }
  })
})

describe('HSTS', () => {
  async function appBehind(trustProxy: false | number) {
    const database = await createTestDatabase()
    const app = createApp({ db: database.db, database, logger: silent, trustProxy })
    const listening = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => listening.once('listening', resolve))
    const url = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`
    return {
      hsts: async (headers: Record<string, string>) =>
        (await fetch(`${url}/healthz`, { headers })).headers.get('strict-transport-security'),
      close: async () => {
        listening.close()
        await database.close()
      },
    }
  }

  it('only when the trusted protocol is https: a forged X-Forwarded-Proto adds nothing', async () => {
    const direct = await appBehind(false)
    const proxied = await appBehind(1)
    try {
      expect(await direct.hsts({ 'x-forwarded-proto': 'https' })).toBeNull()
      expect(await proxied.hsts({})).toBeNull()
      expect(await proxied.hsts({ 'x-forwarded-proto': 'https' })).toBe(
        'max-age=31536000; includeSubDomains',
      )
    } finally {
      await Promise.all([direct.close(), proxied.close()])
    }
  })
})
