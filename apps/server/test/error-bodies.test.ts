import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setRelaySettings } from '@e-stars/billing'
import { createTestDatabase } from '@e-stars/db/testing'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../src/app.ts'
import { readControlFile } from '../src/control-file.ts'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

/**
 * Bad and oversized JSON on every body parser: the right status in the route's own shape, and
 * never a stack, an absolute path or the parser's own words.
 */
const silent = { info() {}, warn() {}, error() {} }
let dataDir: string
let sandbox: Sandbox
let server: RunningServer
let adminToken: string
let webhookSecret: string
let session: { cookie: string; csrf: string }

const BAD_JSON = '{"argv": ["key",'
const big = (bytes: number) => JSON.stringify({ pad: 'x'.repeat(bytes) })

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'estars-error-bodies-'))
  sandbox = await createSandbox({ users: [{ id: 2_000_001, firstName: 'Alice' }] })
  // The server owns its embedded database here: only then does it hand out an admin token.
  server = await startServer(
    parseEnv({
      PORT: '0',
      DATA_DIR: dataDir,
      DEMO_DATA: 'off',
      RECONCILE_INTERVAL_SECONDS: '0',
      SANDBOX_URL: sandbox.url,
      SANDBOX_TOKEN: sandbox.controlToken,
    }),
    silent,
  )
  adminToken = readControlFile(dataDir)!.token
  webhookSecret = (
    await setRelaySettings(server.database.db, {
      projectId: server.demoProjectId!,
      relayTarget: null,
    })
  ).webhookSecret
  const login = await fetch(`${server.url}/trpc/operator.auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(server.demoOperator),
  })
  const body = (await login.json()) as { result: { data: { csrfToken: string } } }
  session = {
    cookie: login.headers.get('set-cookie')!.split(';')[0]!,
    csrf: body.result.data.csrfToken,
  }
  // A fresh embedded data directory is migrated from scratch: minutes on a busy machine.
}, 240_000)
afterAll(async () => {
  await server?.close()
  await sandbox?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    text: await response.text(),
  }
}

/** What no error body may hold: HTML, a stack frame, a file path. */
function expectNoStack(answer: { type: string; text: string }) {
  expect(answer.type).toMatch(/^application\/json/)
  expect(answer.text).not.toMatch(/\bat \S+ \(|\/work\/|\/home\/|node_modules|[A-Z]:\\|\.ts:\d/)
}

/** Nor, on the server's own routes, a parser's class or its own words. */
function expectNothingLeaked(answer: { type: string; text: string }) {
  expectNoStack(answer)
  expect(answer.text).not.toMatch(/SyntaxError|PayloadTooLarge|Unexpected (token|end)|stack/i)
}

describe('POST /admin/command', () => {
  const admin = () => ({ 'x-admin-token': adminToken })

  it('refuses a caller without the token before its body is parsed: 403, not 400', async () => {
    for (const body of [BAD_JSON, big(100_000)]) {
      const answer = await post('/admin/command', body)
      expect(answer.status).toBe(403)
      expect(JSON.parse(answer.text)).toEqual({ error: 'Forbidden' })
      expectNothingLeaked(answer)
    }
  })

  it('bad JSON with the token: 400 { error }', async () => {
    const answer = await post('/admin/command', BAD_JSON, admin())
    expect(answer.status).toBe(400)
    expect(JSON.parse(answer.text)).toEqual({
      error: 'The body must be JSON',
      requestId: expect.any(String),
    })
    expectNothingLeaked(answer)
  })

  it('an oversized body with the token: 413 { error }', async () => {
    const answer = await post('/admin/command', big(20_000), admin())
    expect(answer.status).toBe(413)
    expect(JSON.parse(answer.text)).toEqual({
      error: 'Request body too large',
      requestId: expect.any(String),
    })
    expectNothingLeaked(answer)
  })
})

describe('/telegram/<projectId>', () => {
  const telegram = () => ({ 'x-telegram-bot-api-secret-token': webhookSecret })

  it('bad JSON with the right secret: 400 in the Bot API shape', async () => {
    const answer = await post(`/telegram/${server.demoProjectId}`, BAD_JSON, telegram())
    expect(answer.status).toBe(400)
    expect(JSON.parse(answer.text)).toMatchObject({
      ok: false,
      error_code: 400,
      description: expect.stringMatching(/^Bad Request: /),
    })
    expectNothingLeaked(answer)
  })

  it('an oversized update with the right secret: 413 in the Bot API shape', async () => {
    const answer = await post(`/telegram/${server.demoProjectId}`, big(1_100_000), telegram())
    expect(answer.status).toBe(413)
    expect(JSON.parse(answer.text)).toMatchObject({ ok: false, error_code: 413 })
    expectNothingLeaked(answer)
  })

  it('a path no route answers: 404 in the Bot API shape', async () => {
    const answer = await post('/telegram/', BAD_JSON)
    expect(answer.status).toBe(404)
    expect(JSON.parse(answer.text)).toMatchObject({ ok: false, error_code: 404 })
  })
})

describe('/console-api', () => {
  const operator = () => ({ cookie: session.cookie, 'x-csrf-token': session.csrf })

  it('bad and oversized JSON to the sandbox proxy: 400/413 as { ok: false, error }', async () => {
    const bad = await post('/console-api/sandbox/users', BAD_JSON, operator())
    expect(bad.status).toBe(400)
    expect(JSON.parse(bad.text)).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } })
    expectNothingLeaked(bad)
    const large = await post('/console-api/sandbox/users', big(100_000), operator())
    expect(large.status).toBe(413)
    expect(JSON.parse(large.text)).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } })
    expectNothingLeaked(large)
  })

  it('without a session the body is not read: 401 in the same shape', async () => {
    const answer = await post('/console-api/sandbox/users', BAD_JSON)
    expect(answer.status).toBe(401)
    expect(JSON.parse(answer.text)).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } })
  })

  it('a path no route answers: 404 as { ok: false, error }', async () => {
    const answer = await post('/console-api/nothing-here', BAD_JSON, { accept: 'application/json' })
    expect(answer.status).toBe(404)
    expect(JSON.parse(answer.text)).toEqual({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'Not found' },
      requestId: expect.any(String),
    })
  })
})

describe('/trpc', () => {
  // tRPC's adapter answers these itself (the parser's one-line message included): no stack, no path.
  it("bad JSON: tRPC's own 400, no stack", async () => {
    const answer = await post('/trpc/operator.auth.login', BAD_JSON)
    expect(answer.status).toBe(400)
    expect(JSON.parse(answer.text)).toMatchObject({ error: { data: { code: 'BAD_REQUEST' } } })
    expectNoStack(answer)
  })

  it("an oversized body: tRPC's own 413, no stack", async () => {
    const answer = await post('/trpc/operator.auth.login', big(1_100_000))
    expect(answer.status).toBe(413)
    expect(JSON.parse(answer.text)).toMatchObject({
      error: { data: { code: 'PAYLOAD_TOO_LARGE' } },
    })
    expectNoStack(answer)
  })
})

describe('everything else', () => {
  it('a path no route answers: 404 { error }', async () => {
    const answer = await post('/nowhere', BAD_JSON, { accept: 'application/json' })
    expect(answer.status).toBe(404)
    expect(JSON.parse(answer.text)).toEqual({ error: 'Not found', requestId: expect.any(String) })
  })

  it('Express runs with production settings whatever NODE_ENV says', async () => {
    expect(process.env.NODE_ENV).toBe('test')
    const database = await createTestDatabase()
    const app = createApp({
      db: database.db,
      database,
      logger: silent,
      extend(app) {
        app.get('/throws', () => {
          throw new Error(`failed in ${import.meta.url}`)
        })
      },
    })
    expect(app.get('env')).toBe('production')
    const listening = app.listen(0, '127.0.0.1')
    try {
      await new Promise((resolve) => listening.once('listening', resolve))
      const response = await fetch(
        `http://127.0.0.1:${(listening.address() as AddressInfo).port}/throws`,
      )
      expect(response.status).toBe(500)
      const answer = {
        type: response.headers.get('content-type') ?? '',
        text: await response.text(),
      }
      expect(JSON.parse(answer.text)).toEqual({
        error: 'Internal server error',
        requestId: expect.any(String),
      })
      expectNothingLeaked(answer)
    } finally {
      listening.close()
      await database.close()
    }
  })
})
