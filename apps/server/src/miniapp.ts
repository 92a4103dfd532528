import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Db } from '@e-stars/db'
import express from 'express'

/** apps/miniapp/dist, next to this app in the repository. */
export const defaultMiniAppDir = fileURLToPath(new URL('../../miniapp/dist', import.meta.url))

export interface MiniAppOptions {
  db: Db
  /** The built reference Mini App; nothing is served when the folder has no index.html. */
  dir: string
  /** The sandbox, when the server runs against it: `/miniapp/open` goes to its host page. */
  sandboxUrl?: string | undefined
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * Serves the reference Mini App at `/miniapp/` (its API calls go to `/trpc` on this origin), and in
 * sandbox mode `/miniapp/open?project=…[&user=…&theme=dark]`, which opens it inside the sandbox's
 * Telegram host page (the start banner prints the link with the demo project; nothing here
 * looks one up). Mount before the console's fallback.
 *
 * It shares the console's origin; its own CSP (Telegram may frame it, only its bundle and
 * telegram-web-app.js run) and the console's cookie, framing and opener rules keep it from the
 * console's session: security-headers.ts, which app.ts applies to these routes too.
 */
export function mountMiniApp(app: express.Express, options: MiniAppOptions) {
  if (options.sandboxUrl) {
    const sandboxUrl = options.sandboxUrl
    app.get('/miniapp/open', (req, res) => {
      const target = new URL('/miniapp', sandboxUrl)
      // Only the project the link names: whoever asks is not told which projects exist.
      const project = typeof req.query.project === 'string' ? req.query.project : ''
      if (UUID.test(project)) target.searchParams.set('project', project)
      for (const key of ['user', 'theme'] as const) {
        const value = req.query[key]
        if (typeof value === 'string' && /^[\w-]{1,32}$/.test(value))
          target.searchParams.set(key, value)
      }
      res.redirect(302, target.toString())
    })
  }
  const dir = resolve(options.dir)
  if (!existsSync(join(dir, 'index.html'))) return { served: false as const, dir }
  app.get('/miniapp', (req, res, next) => {
    // Relative asset paths need the trailing slash; Express also routes `/miniapp/` here.
    const [path, query] = req.originalUrl.split('?')
    if (path !== '/miniapp') return next()
    res.redirect(301, `/miniapp/${query === undefined ? '' : `?${query}`}`)
  })
  app.use(
    '/miniapp',
    express.static(dir, {
      index: 'index.html',
      maxAge: '1h',
      setHeaders(res, path) {
        // The page and the stand-in change with each build; hashed assets may be cached.
        if (path.endsWith('.html') || path.endsWith('.sandbox.js'))
          res.setHeader('cache-control', 'no-cache')
      },
    }),
  )
  return { served: true as const, dir }
}
