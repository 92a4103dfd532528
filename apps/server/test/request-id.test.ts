import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import { createEStarsClient } from '@e-stars/api/client'
import { createApiKey } from '@e-stars/billing'
import { createTestDatabase } from '@e-stars/db/testing'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { createLogger } from '../src/logger.ts'
import {
  type RequestLogOptions,
  requestIdOf,
  requestIds,
  requestLog,
  requestLogLevel,
} from '../src/request-log.ts'
import { type RunningServer, startServer } from '../src/server.ts'
import { captureLogs } from './log-capture.ts'

const logs = captureLogs()
const PINO_DEBUG = 20
const PINO_INFO = 30
const PINO_WARN = 40
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
let server: RunningServer
let apiKey: string
let projectId: string

/** The parsed lines that name `requestId`, and a check that none names it twice. */
function linesOf(requestId: string): Record<string, unknown>[] {
  return logs.lines
    .filter((line) => line.includes(requestId))
    .map((line) => {
      expect(line.split('"requestId"').length - 1).toBe(1)
      return JSON.parse(line) as Record<string, unknown>
    })
}

beforeAll(async () => {
  server = await startServer(parseEnv({ PORT: '0', LOG_LEVEL: 'info' }), logs.logger, {
    database: await createTestDatabase(),
    extend(app) {
      // A route that logs after an await and then fails: the id must follow both.
      app.get('/test/fails-later', async () => {
        await new Promise((resolve) => setTimeout(resolve, 20))
        logs.logger.warn({ step: 'before the failure' }, 'about to fail')
        throw new Error('failed on purpose')
      })
    },
  })
  projectId = server.demoProjectId!
  apiKey = (await createApiKey(server.database.db, { projectId, name: 'ids' })).key
})
afterAll(() => server?.close())

describe('request ids', () => {
  it('a valid X-Request-Id is kept: echoed, in the error body and in every log line of the request', async () => {
    const id = `lb-${randomUUID()}`
    const response = await fetch(`${server.url}/test/fails-later`, {
      headers: { 'x-request-id': id },
    })
    expect(response.status).toBe(500)
    expect(response.headers.get('x-request-id')).toBe(id)
    expect(await response.json()).toEqual({ error: 'Internal server error', requestId: id })
    const lines = linesOf(id)
    expect(lines.map((l) => l.msg)).toEqual(['about to fail', 'unexpected error', 'request'])
    for (const line of lines) expect(line.requestId).toBe(id)
  })

  it('an id is generated when none is sent, and error bodies of every family carry it', async () => {
    for (const path of ['/nowhere', '/console-api/nowhere']) {
      const response = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { accept: 'application/json' },
      })
      const id = response.headers.get('x-request-id')
      expect(id).toMatch(UUID)
      expect(((await response.json()) as { requestId?: string }).requestId).toBe(id)
    }
    // A procedure's refusal (tRPC and REST) carries the id too: `error.data.requestId`, and the
    // problem's `requestId` member.
    const trpc = await fetch(`${server.url}/trpc/credits.balance?input=${encodeURIComponent('{}')}`)
    const trpcId = trpc.headers.get('x-request-id')
    expect(trpcId).toMatch(UUID)
    expect(
      ((await trpc.json()) as { error: { data: { requestId: string } } }).error.data.requestId,
    ).toBe(trpcId)
    const rest = await fetch(`${server.url}/api/v1/project`)
    expect(rest.status).toBe(401)
    expect(((await rest.json()) as { requestId?: string }).requestId).toBe(
      rest.headers.get('x-request-id'),
    )
  })

  it('a malformed X-Request-Id (too long, unsafe characters) is replaced and never logged', async () => {
    for (const bad of ['a'.repeat(65), 'id with spaces', '"><script>', 'ok;drop']) {
      const response = await fetch(`${server.url}/nowhere`, { headers: { 'x-request-id': bad } })
      expect(response.headers.get('x-request-id')).toMatch(UUID)
      expect(logs.lines.some((line) => line.includes(bad))).toBe(false)
    }
    expect(requestIdOf('abc\u0001def')).toMatch(UUID)
    expect(requestIdOf('abc\ndef')).toMatch(UUID)
  })

  it('control characters in the raw header are replaced too', async () => {
    const { port } = new URL(server.url)
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.write(
          'GET /nowhere HTTP/1.1\r\nHost: x\r\nX-Request-Id: evil\u0001id\u007f\r\nConnection: close\r\n\r\n',
          'latin1',
        ),
      )
      let text = ''
      socket.setEncoding('latin1').on('data', (chunk: string) => {
        text += chunk
      })
      socket.on('end', () => resolve(text)).on('error', reject)
    })
    // Node refuses such a header outright (400) or the id is replaced: never echoed, never logged.
    expect(raw).not.toContain('evil')
    expect(logs.lines.some((line) => line.includes('evil'))).toBe(false)
  })

  it("a tRPC request's line carries project, procedures, status and duration, never inputs", async () => {
    const id = `bot-${randomUUID()}`
    const client = createEStarsClient({
      url: server.url,
      apiKey,
      fetch: (url, init) => {
        const headers = new Headers(init?.headers)
        headers.set('x-request-id', id)
        return fetch(url, { ...init, headers })
      },
    })
    const secretReason = `reason-${randomUUID()}`
    await client.customers.upsert.mutate({ telegramUserId: 5_000_000_321, username: 'zed' })
    await expect(
      client.usage.consume.mutate({
        telegramUserId: 5_000_000_321,
        amount: 1_000_000,
        reason: secretReason,
        idempotencyKey: randomUUID(),
      }),
    ).rejects.toThrow()
    const lines = linesOf(id).filter((l) => l.msg === 'request')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatchObject({
      api: 'trpc',
      procedures: ['customers.upsert'],
      projectId,
      status: 200,
    })
    expect(lines[1]).toMatchObject({ procedures: ['usage.consume'], projectId })
    expect(lines[1]!.status).toBeGreaterThanOrEqual(400)
    // A success is a debug line (the bot's every call); a refusal is an info line.
    expect(lines.map((l) => l.level)).toEqual([PINO_DEBUG, PINO_INFO])
    for (const line of lines) expect(typeof line.durationMs).toBe('number')
    const text = logs.lines.join('\n')
    expect(text).not.toContain(secretReason)
    expect(text).not.toContain('5000000321')
    expect(text).not.toContain('zed')
    expect(logs.leaks({ apiKey })).toEqual([])
  })

  it("a REST request's line names its route template and project, not the customer in its path", async () => {
    const id = `rest-${randomUUID()}`
    const response = await fetch(`${server.url}/api/v1/customers/5000000321/balance`, {
      headers: { authorization: `Bearer ${apiKey}`, 'x-request-id': id },
    })
    expect(response.headers.get('x-request-id')).toBe(id)
    const [line] = linesOf(id).filter((l) => l.msg === 'request')
    expect(line).toMatchObject({
      api: 'rest',
      route: '/api/v1/customers/{telegramUserId}/balance',
      projectId,
      status: response.status,
    })
    expect(JSON.stringify(line)).not.toContain('5000000321')
  })
})

describe('request lines by level (LOG_REQUESTS, SLOW_REQUEST_MS)', () => {
  it('a success is debug, a refusal info, a 5xx or a slow request warn; `all` lifts successes to info', () => {
    expect(requestLogLevel(200, 3)).toBe('debug')
    expect(requestLogLevel(204, 999)).toBe('debug')
    expect(requestLogLevel(402, 3)).toBe('info')
    expect(requestLogLevel(404, 3)).toBe('info')
    expect(requestLogLevel(500, 3)).toBe('warn')
    expect(requestLogLevel(503, 3)).toBe('warn')
    expect(requestLogLevel(200, 1000)).toBe('warn')
    expect(requestLogLevel(200, 40, { slowMs: 25 })).toBe('warn')
    expect(requestLogLevel(200, 3, { requests: 'all' })).toBe('info')
    expect(requestLogLevel(404, 3, { requests: 'all' })).toBe('info')
  })

  /** A small app with the server's id and log middleware, its logger at `level`, and what it wrote. */
  async function served(level: 'info' | 'debug', options: RequestLogOptions = {}) {
    const written: Record<string, unknown>[] = []
    const logger = createLogger({
      level,
      destination: { write: (line: string) => void written.push(JSON.parse(line)) },
    })
    const app = express()
    app.use(requestIds())
    app.use(
      requestLog(logger, (req) => ({ api: 'other', routes: [req.path] }), {
        slowMs: 80,
        ...options,
      }),
    )
    app.get('/ok', (_req, res) => void res.json({ ok: true }))
    app.get('/slow', (_req, res) => void setTimeout(() => res.json({ ok: true }), 120))
    app.get('/refused', (_req, res) => void res.status(402).json({ error: 'no credits' }))
    app.get('/broken', (_req, res) => void res.status(500).json({ error: 'broken' }))
    const listener = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => listener.once('listening', resolve))
    const { port } = listener.address() as { port: number }
    const ids: Record<string, string> = {}
    for (const path of ['/ok', '/slow', '/refused', '/broken']) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`)
      ids[path] = response.headers.get('x-request-id')!
      await response.text()
    }
    await new Promise((resolve) => listener.close(resolve))
    const levelOf = (path: string) =>
      written.find((line) => line.msg === 'request' && line.requestId === ids[path])?.level
    return { written, levelOf }
  }

  it('at LOG_LEVEL=info a fast success writes no line; refusals, failures and slow requests do, with their ids', async () => {
    const { levelOf } = await served('info')
    expect(levelOf('/ok')).toBeUndefined()
    expect(levelOf('/refused')).toBe(PINO_INFO)
    expect(levelOf('/broken')).toBe(PINO_WARN)
    expect(levelOf('/slow')).toBe(PINO_WARN)
  })

  it('LOG_REQUESTS=all writes every request at info; LOG_LEVEL=debug shows successes at debug', async () => {
    const all = await served('info', { requests: 'all' })
    expect(all.levelOf('/ok')).toBe(PINO_INFO)
    expect(all.written.find((l) => l.level === PINO_WARN && l.slow === true)).toBeDefined()
    const debug = await served('debug')
    expect(debug.levelOf('/ok')).toBe(PINO_DEBUG)
  })
})
