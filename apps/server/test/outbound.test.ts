import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import net, { type AddressInfo } from 'node:net'
import {
  createApiKey,
  getRelayStatus,
  InvalidInput,
  listProjects,
  setRelaySettings,
} from '@e-stars/billing'
import type { Database } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { sql } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseEnv } from '../src/env.ts'
import {
  createOutbound,
  OUTBOUND_FAILURES,
  type OutboundOptions,
  privateTargetsAllowed,
  type Resolver,
  targetRefusal,
} from '../src/outbound.ts'
import { type RunningServer, startServer } from '../src/server.ts'
import { memoryLogger } from '../src/testing.ts'

/** Not a real secret: a marker that must reach only the target it was sent to. */
const SECRET_HEADER = { 'x-telegram-bot-api-secret-token': 'test-marker-not-a-secret' }

/** A loopback listener that counts the connections it accepted and the requests it read. */
async function listener(answer: (req: IncomingMessage, res: ServerResponse) => void = ok) {
  const seen = { connections: 0, requests: [] as IncomingMessage[] }
  const server: Server = createServer((req, res) => {
    seen.requests.push(req)
    answer(req, res)
  })
  server.on('connection', () => {
    seen.connections++
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    seen,
    port,
    url: `http://127.0.0.1:${port}/hook`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

function ok(req: IncomingMessage, res: ServerResponse) {
  req.resume()
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":1}'))
}

function guard(overrides: Partial<OutboundOptions> = {}) {
  const logger = memoryLogger()
  return {
    logger,
    outbound: createOutbound({ allowPrivate: false, ownPorts: () => [], logger, ...overrides }),
  }
}

const post = (
  outbound: ReturnType<typeof createOutbound>,
  url: string,
  extra: { timeoutMs?: number; maxResponseBytes?: number } = {},
) =>
  outbound.post(url, {
    headers: { 'content-type': 'application/json', ...SECRET_HEADER },
    body: '{"update_id":1}',
    timeoutMs: 2000,
    log: { projectId: 'project-under-test' },
    ...extra,
  })

/** Every socket this process opens, whichever module opens it. */
const connects = vi.spyOn(net.Socket.prototype, 'connect')
afterEach(() => connects.mockClear())

describe('the outbound guard refuses what is not public, in every encoding, before any socket', () => {
  let target: Awaited<ReturnType<typeof listener>>
  beforeAll(async () => {
    target = await listener()
  })
  afterAll(() => target.close())

  const hostile = (port: number) => [
    `http://127.0.0.1:${port}/`,
    `http://2130706433:${port}/`,
    `http://0177.0.0.1:${port}/`,
    `http://0x7f.1:${port}/`,
    `http://0x7f000001:${port}/`,
    `http://017700000001:${port}/`,
    `http://127.1:${port}/`,
    `http://127.0.0.1.:${port}/`,
    `http://[::1]:${port}/`,
    `http://[::ffff:127.0.0.1]:${port}/`,
    `http://[0:0:0:0:0:ffff:7f00:1]:${port}/`,
    `http://[::127.0.0.1]:${port}/`,
    `http://[64:ff9b::127.0.0.1]:${port}/`,
    `http://[2002:7f00:1::]:${port}/`,
    `http://0:${port}/`,
    `http://0.0.0.0:${port}/`,
    `http://[::]:${port}/`,
    `http://localhost:${port}/`,
    'http://169.254.169.254/latest/meta-data/',
    'http://0xA9.0xFE.0xA9.0xFE/latest/meta-data/',
    'http://2852039166/latest/meta-data/',
    'http://[::ffff:169.254.169.254]/',
    'http://10.0.0.1/',
    'http://10.255.255.254:8080/',
    'http://172.16.0.1/',
    'http://172.31.255.1/',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://100.127.255.254/',
    'http://[64:ff9b::10.0.0.1]/',
    'http://[64:ff9b:1::1]/',
    'http://[fe80::1]/',
    'http://[fc00::1]/',
    'http://[fd12:3456::1]/',
    'http://224.0.0.1/',
    'http://[ff02::1]/',
    'http://255.255.255.255/',
    'http://240.0.0.1/',
    'http://192.0.2.1/',
    'http://[2001:db8::1]/',
  ]

  it('every hostile target is refused as "not a public address", and no connection is made', async () => {
    const { outbound, logger } = guard()
    for (const url of hostile(target.port)) {
      expect(await post(outbound, url), url).toEqual({
        delivered: false,
        error: OUTBOUND_FAILURES.notPublic,
      })
    }
    expect(target.seen.connections).toBe(0)
    expect(connects).not.toHaveBeenCalled()
    // The detail is in the log, with the project; the header's value never is.
    expect(logger.lines).toHaveLength(hostile(target.port).length)
    expect(logger.lines[0]).toMatchObject({
      level: 'warn',
      obj: { projectId: 'project-under-test', detail: expect.stringMatching(/loopback/) },
    })
    expect(JSON.stringify(logger.lines)).not.toContain(
      SECRET_HEADER['x-telegram-bot-api-secret-token'],
    )
  })

  it('a name that resolves to a private address, or to one among public ones, is refused', async () => {
    const answers: Record<string, string[]> = {
      'internal.example.test': ['10.0.0.5'],
      'metadata.example.test': ['169.254.169.254'],
      'mixed.example.test': ['8.8.8.8', '127.0.0.1'],
      'mapped.example.test': ['::ffff:127.0.0.1'],
    }
    const resolve: Resolver = async (host) =>
      (answers[host] ?? []).map((address) => ({ address, family: net.isIP(address) }))
    const { outbound } = guard({ resolve })
    for (const host of Object.keys(answers))
      expect(await post(outbound, `http://${host}:${target.port}/`), host).toEqual({
        delivered: false,
        error: OUTBOUND_FAILURES.notPublic,
      })
    expect(target.seen.connections).toBe(0)
    expect(connects).not.toHaveBeenCalled()
  })

  it('DNS rebinding: a name that answers a public address to the check and loopback to the connect does not connect', async () => {
    const asked: string[] = []
    const resolve: Resolver = async (host) => {
      asked.push(host)
      const address = asked.length === 1 ? '8.8.8.8' : '127.0.0.1'
      return [{ address, family: 4 }]
    }
    const { outbound } = guard({ resolve })
    expect(await post(outbound, `http://rebind.example.test:${target.port}/hook`)).toEqual({
      delivered: false,
      error: OUTBOUND_FAILURES.notPublic,
    })
    // Checked when the URL was read, and again by the socket's own lookup.
    expect(asked).toEqual(['rebind.example.test', 'rebind.example.test'])
    expect(target.seen.connections).toBe(0)
  })

  it('a target that is not http(s) is refused without a socket', async () => {
    const { outbound } = guard({ allowPrivate: true })
    for (const url of [
      'file:///etc/passwd',
      'gopher://127.0.0.1:70/',
      'ftp://example.test/',
      'nonsense',
    ])
      expect(await post(outbound, url), url).toEqual({
        delivered: false,
        error: OUTBOUND_FAILURES.notHttp,
      })
    expect(connects).not.toHaveBeenCalled()
  })
})

describe('with private targets allowed (demo mode, tests)', () => {
  it('a loopback target is reached, and its answer read', async () => {
    const target = await listener()
    try {
      const { outbound } = guard({ allowPrivate: true })
      expect(await post(outbound, target.url)).toEqual({
        delivered: true,
        status: 200,
        body: '{"ok":1}',
      })
      expect(target.seen.requests[0]?.headers['x-telegram-bot-api-secret-token']).toBe(
        SECRET_HEADER['x-telegram-bot-api-secret-token'],
      )
      // The spy the refusals above are judged by does see a real connection.
      expect(connects).toHaveBeenCalled()
    } finally {
      await target.close()
    }
  })

  it("this server's own port is refused on every local address and encoding", async () => {
    const self = await listener()
    try {
      const { outbound } = guard({ allowPrivate: true, ownPorts: () => [self.port] })
      for (const url of [
        `http://127.0.0.1:${self.port}/demo/bootstrap`,
        `http://localhost:${self.port}/admin/command`,
        `http://2130706433:${self.port}/demo/bootstrap`,
        `http://[::ffff:127.0.0.1]:${self.port}/demo/bootstrap`,
        `http://0:${self.port}/demo/bootstrap`,
      ])
        expect(await post(outbound, url), url).toEqual({
          delivered: false,
          error: OUTBOUND_FAILURES.ownServer,
        })
      expect(self.seen.connections).toBe(0)
    } finally {
      await self.close()
    }
  })
})

describe('redirects are never followed', () => {
  it.each([301, 302, 303, 307, 308])(
    'a %i is a failed delivery: no second request, the secret header goes nowhere else',
    async (status) => {
      const elsewhere = await listener()
      const redirector = await listener((req, res) => {
        req.resume()
        res.writeHead(status, { location: `${elsewhere.url}/steal` }).end()
      })
      try {
        const { outbound } = guard({ allowPrivate: true })
        expect(await post(outbound, redirector.url)).toEqual({
          delivered: false,
          error: OUTBOUND_FAILURES.redirect,
        })
        await new Promise((r) => setTimeout(r, 100))
        expect(redirector.seen.requests).toHaveLength(1)
        expect(elsewhere.seen.connections).toBe(0)
      } finally {
        await Promise.all([redirector.close(), elsewhere.close()])
      }
    },
  )
})

describe('bounded in time and in what is read; coarse words', () => {
  it('a target that never answers fails within the timeout, and its socket is closed', async () => {
    let closed = false
    const silent = await listener((req) => {
      req.socket.once('close', () => {
        closed = true
      })
    })
    try {
      const { outbound, logger } = guard({ allowPrivate: true })
      const started = Date.now()
      expect(await post(outbound, silent.url, { timeoutMs: 300 })).toEqual({
        delivered: false,
        error: OUTBOUND_FAILURES.unreachable,
      })
      expect(Date.now() - started).toBeLessThan(1500)
      await vi.waitFor(() => expect(closed).toBe(true))
      expect(logger.lines.at(-1)?.obj).toMatchObject({ detail: 'timed out' })
    } finally {
      await silent.close()
    }
  })

  it('an answer that trickles in forever is cut at the timeout too', async () => {
    const trickle = await listener((req, res) => {
      req.resume()
      res.writeHead(200)
      const timer = setInterval(() => res.write('x'), 20)
      res.once('close', () => clearInterval(timer))
    })
    try {
      const { outbound } = guard({ allowPrivate: true })
      const started = Date.now()
      expect(await post(outbound, trickle.url, { timeoutMs: 300 })).toEqual({
        delivered: false,
        error: OUTBOUND_FAILURES.unreachable,
      })
      expect(Date.now() - started).toBeLessThan(1500)
    } finally {
      await trickle.close()
    }
  })

  it('an answer longer than maxResponseBytes is not read past it: the socket is destroyed', async () => {
    let written = 0
    let finished = false
    const flood = await listener((req, res) => {
      req.resume()
      res.writeHead(200)
      const chunk = Buffer.alloc(64 * 1024, 'x')
      const pump = () => {
        while (written < 64 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        res.end(() => {
          finished = true
        })
      }
      pump()
    })
    try {
      const { outbound } = guard({ allowPrivate: true })
      expect(await post(outbound, flood.url, { maxResponseBytes: 64 * 1024 })).toEqual({
        delivered: true,
        status: 200,
        body: null,
      })
      await new Promise((r) => setTimeout(r, 100))
      expect(finished).toBe(false)
      expect(written).toBeLessThan(64 * 1024 * 1024)
    } finally {
      await flood.close()
    }
  })

  it('statuses and socket errors reach the caller as classes only; the detail is logged', async () => {
    const statuses = new Map<number, string>([
      [400, OUTBOUND_FAILURES.clientError],
      [404, OUTBOUND_FAILURES.clientError],
      [418, OUTBOUND_FAILURES.clientError],
      [500, OUTBOUND_FAILURES.serverError],
      [502, OUTBOUND_FAILURES.serverError],
      [503, OUTBOUND_FAILURES.serverError],
    ])
    const { outbound, logger } = guard({ allowPrivate: true })
    for (const [status, words] of statuses) {
      const target = await listener((req, res) => {
        req.resume()
        res.writeHead(status).end('a page the owner never sees')
      })
      expect(await post(outbound, target.url)).toEqual({ delivered: false, error: words })
      expect(logger.lines.at(-1)?.obj).toMatchObject({ detail: `HTTP ${status}` })
      await target.close()
    }
    const gone = await listener()
    await gone.close()
    expect(await post(outbound, gone.url)).toEqual({
      delivered: false,
      error: OUTBOUND_FAILURES.unreachable,
    })
    expect(logger.lines.at(-1)?.obj).toMatchObject({
      detail: expect.stringMatching(/ECONNREFUSED/),
    })
    // No word a tenant reads carries a number beyond a class.
    for (const words of Object.values(OUTBOUND_FAILURES)) expect(words).not.toMatch(/\d{3}|\d:\d/)
  })

  it('aborting (a shutdown) rejects instead of reporting a failed delivery', async () => {
    const silent = await listener(() => {})
    try {
      const { outbound } = guard({ allowPrivate: true })
      const stop = new AbortController()
      const sending = outbound.post(silent.url, { body: '{}', signal: stop.signal })
      setTimeout(() => stop.abort(new Error('stopping')), 50)
      await expect(sending).rejects.toThrow('stopping')
    } finally {
      await silent.close()
    }
  })
})

describe('ALLOW_PRIVATE_TARGETS', () => {
  it('auto allows private targets only in demo mode; on and off force it', () => {
    const env = (extra: Record<string, string>) =>
      parseEnv({ SECRET_KEY: 'x'.repeat(64), ...extra })
    expect(privateTargetsAllowed(env({}))).toBe(true)
    expect(privateTargetsAllowed(env({ SANDBOX: 'off' }))).toBe(false)
    expect(privateTargetsAllowed(env({ DATABASE_URL: 'postgres://db.example.test/x' }))).toBe(false)
    expect(privateTargetsAllowed(env({ TELEGRAM_BOT_TOKEN: '1:x' }))).toBe(false)
    expect(privateTargetsAllowed(env({ ALLOW_PRIVATE_TARGETS: 'on', SANDBOX: 'off' }))).toBe(true)
    expect(privateTargetsAllowed(env({ ALLOW_PRIVATE_TARGETS: 'off' }))).toBe(false)
  })
})

/** Literal targets an owner may not store while private targets are off. */
const literals = [
  'http://127.0.0.1/hook',
  'http://2130706433/',
  'http://0177.0.0.1/',
  'http://0x7f.1/',
  'http://127.1/',
  'http://0/',
  'http://[::1]/',
  'http://[::ffff:127.0.0.1]/',
  'http://169.254.169.254/',
  'http://10.1.2.3/',
  'http://192.168.0.10/',
  'http://100.64.1.1/',
  'http://[fe80::1]/',
  'http://[fd00::1]/',
]

describe('storing a relay target', () => {
  it('the rule refuses non-public literal addresses and other schemes, unless private targets are allowed', () => {
    for (const target of literals) {
      expect(targetRefusal(new URL(target), { allowPrivate: false }), target).toMatch(/public/)
      expect(targetRefusal(new URL(target), { allowPrivate: true }), target).toBeNull()
    }
    expect(
      targetRefusal(new URL('https://bot.example.test/hook'), { allowPrivate: false }),
    ).toBeNull()
    expect(targetRefusal(new URL('https://8.8.8.8/hook'), { allowPrivate: false })).toBeNull()
    expect(targetRefusal(new URL('ftp://bot.example.test/'), { allowPrivate: true })).toMatch(
      /http/,
    )
  })
})

describe('through the server with ALLOW_PRIVATE_TARGETS=off', () => {
  let database: Database
  let server: RunningServer
  let projectId: string
  let cookie: string
  let csrf: string
  let target: Awaited<ReturnType<typeof listener>>

  beforeAll(async () => {
    database = await createTestDatabase()
    target = await listener()
    server = await startServer(
      parseEnv({
        PORT: '0',
        SECRET_KEY: 'ab'.repeat(32),
        RECONCILE_INTERVAL_SECONDS: '0',
        RELAY_FORWARD_INTERVAL_MS: '50',
        ALLOW_PRIVATE_TARGETS: 'off',
      }),
      memoryLogger(),
      { database },
    )
    const [project] = await listProjects(database.db)
    projectId = project!.id
    await createApiKey(database.db, { projectId, name: 'bot' })
    const login = await fetch(`${server.url}/trpc/operator.auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: server.demoOperator!.email,
        password: server.demoOperator!.password,
      }),
    })
    cookie = login.headers.get('set-cookie')!.split(';')[0]!
    csrf = ((await login.json()) as { result: { data: { csrfToken: string } } }).result.data
      .csrfToken
  })
  afterAll(async () => {
    await server?.close()
    await target?.close()
  })

  const setRelay = (relayTarget: string) =>
    fetch(`${server.url}/trpc/operator.settings.setRelay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf },
      body: JSON.stringify({ projectId, relayTarget }),
    }).then(async (r) => ({
      status: r.status,
      error: ((await r.json()) as { error?: { message: string; data: { code: string } } }).error,
    }))

  it('the owner cannot store a non-public literal address or another scheme: BAD_REQUEST naming relayTarget', async () => {
    for (const relayTarget of [...literals, `http://127.0.0.1:${target.port}/hook`]) {
      const answer = await setRelay(relayTarget)
      expect(answer.status, relayTarget).toBe(400)
      expect(answer.error?.data.code).toBe('BAD_REQUEST')
      expect(answer.error?.message).toMatch(/^relayTarget: must be a public address/)
    }
    for (const relayTarget of ['ftp://bot.example.test/', 'gopher://bot.example.test/']) {
      const answer = await setRelay(relayTarget)
      expect(answer.status, relayTarget).toBe(400)
      expect(answer.error?.message).toMatch(/http\(s\)/)
    }
    expect((await setRelay('https://bot.example.test/hook')).status).toBe(200)
  })

  it('without the rule the engine trusts no literal address', async () => {
    await expect(
      setRelaySettings(database.db, { projectId, relayTarget: 'http://[::ffff:7f00:1]/' }),
    ).rejects.toMatchObject({ field: 'relayTarget' })
    await expect(
      setRelaySettings(database.db, { projectId, relayTarget: 'http://8.8.8.8/' }),
    ).rejects.toBeInstanceOf(InvalidInput)
  })

  it('a loopback name stored earlier is refused at send time: coarse lastError, no connection', async () => {
    const { webhookSecret } = await setRelaySettings(database.db, {
      projectId,
      relayTarget: 'https://bot.example.test/hook',
    })
    // As a row from before this check would hold it.
    await database.db.execute(
      sql`update projects set relay_target = ${`http://localhost:${target.port}/hook`} where id = ${projectId}`,
    )
    const posted = await fetch(`${server.url}/telegram/${projectId}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-telegram-bot-api-secret-token': webhookSecret,
      },
      body: JSON.stringify({ update_id: 1, message: { text: 'hi' } }),
    })
    expect(posted.status).toBe(200)
    await vi.waitFor(
      async () =>
        expect((await getRelayStatus(database.db, projectId)).lastError).toBe(
          OUTBOUND_FAILURES.notPublic,
        ),
      { timeout: 5000, interval: 50 },
    )
    expect(target.seen.connections).toBe(0)
  })
})
