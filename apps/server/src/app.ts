import { type ApiDependencies, appRouter, createHttpContextFactory } from '@e-stars/api'
import type { Database } from '@e-stars/db'
import { createExpressMiddleware } from '@trpc/server/adapters/express'
import { sql } from 'drizzle-orm'
import express from 'express'

export interface AppOptions extends ApiDependencies {
  database: Database
  /** Extra routes mounted before tRPC (admin, webhook relay, static console). */
  extend?: (app: express.Express) => void
  /** Secure flag of the console session cookie; `auto` follows the request's protocol. */
  secureCookies?: boolean | 'auto' | undefined
}

export function createApp(options: AppOptions) {
  const app = express()
  app.disable('x-powered-by')
  app.get('/healthz', async (_req, res) => {
    try {
      await options.db.execute(sql`select 1`)
      res.json({ ok: true, database: options.database.kind })
    } catch (error) {
      options.logger.error({ err: error }, 'health check failed')
      res.status(503).json({ ok: false, database: options.database.kind })
    }
  })
  options.extend?.(app)
  app.use(
    '/trpc',
    createExpressMiddleware({
      router: appRouter,
      createContext: createHttpContextFactory(options, { secureCookies: options.secureCookies }),
      maxBatchSize: 100,
    }),
  )
  app.use((_req, res) => {
    res.status(404).json({ error: 'Not found' })
  })
  return app
}
