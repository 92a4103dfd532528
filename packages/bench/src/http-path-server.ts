/**
 * The server's HTTP front, three ways, for `http-path.ts` (issue 13, "a lean HTTP path"): the same
 * app, router, context factory, API key cache and database, served by
 * - `express`: the server's own `createApp` (apps/server/src/app.ts), every middleware in place;
 * - `front`: a plain `node:http` listener that hands `/trpc/*` straight to tRPC's standalone
 *   handler (the request id set, the rest of Express skipped) and everything else to that app;
 * - `bare`: tRPC's standalone handler alone, no request id, metrics or log: the floor.
 * Env: DATABASE_URL, PORT, VARIANT, DB_POOL_SIZE.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { appRouter, createHttpContextFactory } from '@e-stars/api'
import { openDatabase } from '@e-stars/db'

const serverSrc = new URL('../../../apps/server/src/', import.meta.url)
const { createApp, MAX_BATCH_SIZE, MAX_BODY_BYTES } = await import(
  new URL('app.ts', serverSrc).href
)
const { createLogger } = await import(new URL('logger.ts', serverSrc).href)
const { RequestKeyCache, requestContext, requestIdOf } = await import(
  new URL('request-log.ts', serverSrc).href
)
const { mountRest } = await import(new URL('rest.ts', serverSrc).href)
const { mountApiDocs } = await import(new URL('api-docs.ts', serverSrc).href)
const { mountConsole, defaultConsoleDir } = await import(new URL('console.ts', serverSrc).href)
const { mountMiniApp, defaultMiniAppDir } = await import(new URL('miniapp.ts', serverSrc).href)
const requireFromServer = createRequire(new URL('../package.json', serverSrc))
type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void
const { createHTTPHandler } = (await import(
  requireFromServer.resolve('@trpc/server/adapters/standalone')
)) as { createHTTPHandler(options: Record<string, unknown>): NodeHandler }

const variant = process.env.VARIANT ?? 'express'
const database = await openDatabase({
  url: process.env.DATABASE_URL,
  poolSize: Number(process.env.DB_POOL_SIZE ?? 32),
})
const logger = createLogger({ level: 'warn' })
const apiKeys = new RequestKeyCache()
const deps = { database, db: database.db, logger, apiKeys }
// The routes the server mounts before /trpc (server.ts), so a /trpc request passes them as there.
const app = createApp({
  ...deps,
  extend(express: unknown) {
    mountRest(express, { db: database.db, logger, apiKeys })
    mountApiDocs(express)
    mountMiniApp(express, { db: database.db, dir: defaultMiniAppDir })
    mountConsole(express, { db: database.db, dir: defaultConsoleDir })
  },
})
const trpc = createHTTPHandler({
  router: appRouter,
  basePath: '/trpc/',
  createContext: createHttpContextFactory(deps),
  maxBatchSize: MAX_BATCH_SIZE,
  maxBodySize: MAX_BODY_BYTES,
})

/** HTTP requests to /trpc and the calls they carried (httpBatchLink joins calls made together). */
const seen = { requests: 0, calls: 0 }
const server = createServer((req, res) => {
  if (req.url?.startsWith('/trpc/')) {
    seen.requests++
    seen.calls += (req.url.slice(6).split('?')[0] ?? '').split(',').length
  }
  if (variant === 'express' || !req.url?.startsWith('/trpc/')) return app(req, res)
  if (variant === 'bare') return trpc(req, res)
  const header = req.headers['x-request-id']
  const facts = { requestId: requestIdOf(Array.isArray(header) ? header[0] : header) }
  res.setHeader('X-Request-Id', facts.requestId)
  requestContext.run(facts, () => trpc(req, res))
})
server.keepAliveTimeout = 65_000
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${JSON.stringify(server.address())}\n`)
})
process.on('SIGTERM', () => {
  process.stdout.write(`seen ${JSON.stringify(seen)}\n`)
  server.close()
  server.closeAllConnections()
  void database.close().then(() => process.exit(0))
})
