import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readCookie, SESSION_COOKIE } from '@e-stars/api'
import { authenticateSession, csrfMatches, membershipOf } from '@e-stars/billing'
import type { Db } from '@e-stars/db'
import { controlHeaders } from '@e-stars/sandbox'
import express from 'express'
import { findDemoProject } from './demo.ts'

/** apps/console/dist, next to this app in the repository. */
export const defaultConsoleDir = fileURLToPath(new URL('../../console/dist', import.meta.url))

export interface ConsoleOptions {
  db: Db
  /** The built console; nothing is served when the folder has no index.html. */
  dir: string
  /** The sandbox Bot API emulator, when the server runs against it. */
  sandboxUrl?: string | undefined
  /** The sandbox's control token: the proxy adds it; no operator ever sees it. */
  sandboxToken?: string | undefined
}

const apiPaths = /^\/(trpc|healthz|admin|console-api)(\/|$)/
/** Paths that are never one of the console's files. */
const notFiles = /^\/(trpc|api|healthz|readyz|metrics|admin|console-api|telegram)(\/|$)/

/**
 * The console's own HTTP surface: its configuration, the sandbox control proxy (owners of the
 * demo project only, CSRF-checked like every mutation, bot tokens stripped) and the built single-page app with its fallback to
 * index.html for client-side routes.
 */
export function mountConsole(app: express.Express, options: ConsoleOptions) {
  app.get('/console-api/config', (_req, res) => {
    res.json({ sandbox: Boolean(options.sandboxUrl) })
  })

  app.use('/console-api/sandbox', async (req, res) => {
    if (!options.sandboxUrl) {
      sandboxError(res, 404, 'NOT_FOUND', 'No sandbox')
      return
    }
    // Who asks comes first: nothing of the request is read for a caller who may not ask.
    const refusal = await sandboxRefusal(options.db, req)
    if (refusal) {
      sandboxError(res, refusal.status, refusal.code, refusal.message)
      return
    }
    const body = req.method === 'GET' ? undefined : await readJsonBody(req, res)
    if (body === null) return
    await forwardToSandbox(req, res, {
      sandboxUrl: options.sandboxUrl,
      sandboxToken: options.sandboxToken,
      body,
    })
  })

  const dir = resolve(options.dir)
  const index = join(dir, 'index.html')
  if (!existsSync(index)) return { served: false as const, dir }
  // Never a file look-up for an API call: a bot's tRPC queries are GETs, and each one would
  // otherwise cost a stat of the console's directory before reaching /trpc.
  const files = express.static(dir, { index: false, maxAge: '1h' })
  app.use((req, res, next) => (notFiles.test(req.path) ? next() : files(req, res, next)))
  app.use((req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || apiPaths.test(req.path)) return next()
    if (!req.accepts('html')) return next()
    res.setHeader('cache-control', 'no-cache')
    res.sendFile(index)
  })
  return { served: true as const, dir }
}

interface Refusal {
  status: 401 | 403
  code: string
  message: string
}

/**
 * The sandbox acts as Telegram for the demo project (its users, its bot, its charges), so only
 * an owner of that project may drive it: not a viewer, not another project's owner.
 */
async function sandboxRefusal(db: Db, req: express.Request): Promise<Refusal | null> {
  const token = readCookie(req.headers.cookie, SESSION_COOKIE)
  const session = token ? await authenticateSession(db, token) : null
  if (!session) return { status: 401, code: 'UNAUTHORIZED', message: 'Log in' }
  const project = await findDemoProject(db)
  const role = project ? await membershipOf(db, session.operator.id, project.id) : null
  if (role !== 'owner')
    return {
      status: 403,
      code: 'FORBIDDEN',
      message: 'The sandbox is for owners of the demo project',
    }
  if (req.method !== 'GET' && !csrfMatches(session.csrfToken, req.get('x-csrf-token')))
    return { status: 403, code: 'FORBIDDEN', message: 'CSRF token' }
  return null
}

const parseSandboxJson = express.json({ limit: '64kb' })

/** The parsed JSON body, or null once a 400/413 in the sandbox's own shape has been sent. */
function readJsonBody(req: express.Request, res: express.Response): Promise<unknown> {
  return new Promise((resolve) => {
    parseSandboxJson(req, res, (error?: unknown) => {
      if (!error) {
        resolve(req.body ?? {})
        return
      }
      const tooLarge = (error as { type?: string }).type === 'entity.too.large'
      if (tooLarge) sandboxError(res, 413, 'BAD_INPUT', 'The body is over 64 kB')
      else sandboxError(res, 400, 'BAD_INPUT', 'The body must be JSON')
      resolve(null)
    })
  })
}

async function forwardToSandbox(
  req: express.Request,
  res: express.Response,
  target: { sandboxUrl: string; sandboxToken: string | undefined; body: unknown },
) {
  const url = new URL(`/sandbox${req.url}`, target.sandboxUrl)
  // `/console-api/sandbox/../bot…` would resolve outside the control API: only /sandbox/… goes.
  if (!url.pathname.startsWith('/sandbox/')) {
    sandboxError(res, 404, 'NOT_FOUND', 'No such sandbox route')
    return
  }
  try {
    const response = await fetch(url, {
      method: req.method,
      headers: {
        'content-type': 'application/json',
        ...(target.sandboxToken ? controlHeaders(target.sandboxToken) : {}),
      },
      ...(target.body === undefined ? {} : { body: JSON.stringify(target.body) }),
      signal: AbortSignal.timeout(30_000),
    })
    const type = response.headers.get('content-type') ?? 'application/octet-stream'
    res.status(response.status).type(type)
    if (!type.startsWith('application/json')) {
      // A file the bot sent (a photo): the bytes as they are.
      res.send(Buffer.from(await response.arrayBuffer()))
      return
    }
    res.json(withoutBotTokens(await response.json()))
  } catch {
    sandboxError(res, 502, 'BAD_GATEWAY', `The sandbox at ${target.sandboxUrl} does not answer`)
  }
}

/** A bot token is Bot API access to the bot: the console never shows one. */
function withoutBotTokens(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutBotTokens)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'token' && key !== 'botToken')
      .map(([key, inner]) => [key, withoutBotTokens(inner)]),
  )
}

function sandboxError(res: express.Response, status: number, code: string, message: string) {
  res.status(status).json({ ok: false, error: { code, message } })
}
