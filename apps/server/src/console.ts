import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readCookie, SESSION_COOKIE } from '@e-stars/api'
import { authenticateSession, csrfMatches } from '@e-stars/billing'
import type { Db } from '@e-stars/db'
import express from 'express'

/** apps/console/dist, next to this app in the repository. */
export const defaultConsoleDir = fileURLToPath(new URL('../../console/dist', import.meta.url))

export interface ConsoleOptions {
  db: Db
  /** The built console; nothing is served when the folder has no index.html. */
  dir: string
  /** The sandbox Bot API emulator, when the server runs against it. */
  sandboxUrl?: string | undefined
}

const apiPaths = /^\/(trpc|healthz|admin|console-api)(\/|$)/

/**
 * The console's own HTTP surface: its configuration, the sandbox control proxy (operators only,
 * CSRF-checked like every mutation) and the built single-page app with its fallback to
 * index.html for client-side routes.
 */
export function mountConsole(app: express.Express, options: ConsoleOptions) {
  app.get('/console-api/config', (_req, res) => {
    res.json({ sandbox: Boolean(options.sandboxUrl) })
  })

  app.use('/console-api/sandbox', express.json({ limit: '64kb' }), async (req, res) => {
    if (!options.sandboxUrl) {
      res.status(404).json({ ok: false, error: { code: 'NOT_FOUND', message: 'No sandbox' } })
      return
    }
    const token = readCookie(req.headers.cookie, SESSION_COOKIE)
    const session = token ? await authenticateSession(options.db, token) : null
    if (!session) {
      res.status(401).json({ ok: false, error: { code: 'UNAUTHORIZED', message: 'Log in' } })
      return
    }
    if (req.method !== 'GET' && !csrfMatches(session.csrfToken, req.get('x-csrf-token'))) {
      res.status(403).json({ ok: false, error: { code: 'FORBIDDEN', message: 'CSRF token' } })
      return
    }
    const target = new URL(`/sandbox${req.url}`, options.sandboxUrl)
    try {
      const response = await fetch(target, {
        method: req.method,
        headers: { 'content-type': 'application/json' },
        ...(req.method === 'GET' ? {} : { body: JSON.stringify(req.body ?? {}) }),
        signal: AbortSignal.timeout(30_000),
      })
      res
        .status(response.status)
        .type('application/json')
        .send(await response.text())
    } catch {
      res.status(502).json({
        ok: false,
        error: {
          code: 'BAD_GATEWAY',
          message: `The sandbox at ${options.sandboxUrl} does not answer`,
        },
      })
    }
  })

  const dir = resolve(options.dir)
  const index = join(dir, 'index.html')
  if (!existsSync(index)) return { served: false as const, dir }
  app.use(express.static(dir, { index: false, maxAge: '1h' }))
  app.use((req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || apiPaths.test(req.path)) return next()
    if (!req.accepts('html')) return next()
    res.setHeader('cache-control', 'no-cache')
    res.sendFile(index)
  })
  return { served: true as const, dir }
}
