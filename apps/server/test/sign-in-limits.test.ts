/**
 * Issue 12, items 5 and 6 over the real HTTP stack: Mini App sign-in and console login are
 * limited (rate-limiter-flexible over the `rate_limits` table), a replayed init data finds its
 * session instead of adding one, and an unauthenticated caller gets one refusal whatever the
 * project, so sign-in reveals no project.
 */
import {
  ATTEMPT_LIMITS,
  appRouter,
  createCallerFactory,
  createInnerContext,
  createPaymentServices,
} from '@e-stars/api'
import {
  createOperator,
  createProject,
  createSecrets,
  DEFAULT_CUSTOMER_SESSION_POLICY,
  setBotToken,
} from '@e-stars/billing'
import { customerSessions, type Database, rateLimits } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { signInitData } from '@e-stars/sandbox'
import type { TRPCError } from '@trpc/server'
import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAttemptLimits } from '../src/attempt-limits.ts'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'
import { memoryLogger } from '../src/testing.ts'
import { testSecretKey } from './spawn-server.ts'

const BOT_TOKEN = '1000001:sandbox-sign-in'
const OTHER_BOT_TOKEN = '1000002:another-bot'
const ALICE = { id: 2_000_001, first_name: 'Alice', is_bot: false }
const secretKey = testSecretKey()
const secrets = createSecrets(secretKey)
const log = memoryLogger()

let database: Database
let server: RunningServer
let projectId: string
let tokenlessId: string

beforeAll(async () => {
  database = await createTestDatabase()
  server = await startServer(
    parseEnv({
      PORT: '0',
      HOST: '127.0.0.1',
      SECRET_KEY: secretKey,
      RECONCILE_INTERVAL_SECONDS: '0',
    }),
    log,
    { database },
  )
  projectId = (await createProject(database.db, { name: 'Signs in' })).id
  await setBotToken(database.db, { projectId, botToken: BOT_TOKEN, secrets })
  tokenlessId = (await createProject(database.db, { name: 'No bot yet' })).id
  await createOperator(database.db, {
    email: 'owner@limits.io',
    password: 'password123',
    projectId,
  })
})
afterAll(() => server?.close())
// Every test starts with no counted attempts: all requests come from 127.0.0.1.
beforeEach(async () => {
  await database.db.delete(rateLimits)
})

interface Answer {
  status: number
  retryAfter: string | null
  contentType: string | null
  body: unknown
}

async function post(path: string, input: unknown): Promise<Answer> {
  const response = await fetch(`${server.url}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  })
  const body = (await response.json()) as { error?: { data?: { requestId?: unknown } } }
  // Each request's own id (also the X-Request-Id header): the rest must be alike across answers.
  if (body.error?.data?.requestId !== undefined) {
    expect(body.error.data.requestId).toBe(response.headers.get('x-request-id'))
    body.error.data.requestId = '<this request>'
  }
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    contentType: response.headers.get('content-type'),
    body,
  }
}

const signIn = (input: { projectId: string; initData: string }) => post('miniApp.signIn', input)
const codeOf = (answer: Answer) =>
  (answer.body as { error?: { data?: { code?: string } } }).error?.data?.code
const sessionsOfProject = async (id: string) =>
  (await database.db.select().from(customerSessions).where(eq(customerSessions.projectId, id)))
    .length

describe('one refusal for every unauthenticated sign-in that fails', () => {
  it('a missing project, a project without a bot token, a bad signature and an old init data answer alike', async () => {
    const valid = signInitData(ALICE, BOT_TOKEN)
    const old = signInitData(ALICE, BOT_TOKEN, {
      authDate: new Date(
        Date.now() - (DEFAULT_CUSTOMER_SESSION_POLICY.initDataMaxAgeSeconds + 60) * 1000,
      ),
    })
    const answers = {
      noProject: await signIn({
        projectId: '00000000-0000-4000-8000-000000000000',
        initData: valid,
      }),
      noBotToken: await signIn({ projectId: tokenlessId, initData: valid }),
      badSignature: await signIn({ projectId, initData: signInitData(ALICE, OTHER_BOT_TOKEN) }),
      expired: await signIn({ projectId, initData: old }),
    }
    const [first, ...rest] = Object.values(answers)
    for (const answer of rest) expect(answer).toEqual(first)
    expect(first).toMatchObject({
      status: 401,
      body: {
        error: {
          message: 'Sign-in refused',
          data: {
            code: 'UNAUTHORIZED',
            billing: {
              code: 'INIT_DATA_REJECTED',
              reason: 'refused',
              authDate: null,
              maxAgeSeconds: null,
            },
          },
        },
      },
    })
    // The reasons are for whoever reads the server's log, with the project named.
    const refused = log.lines.filter((line) => line.msg === 'Mini App sign-in refused')
    expect(refused.map((line) => line.obj.reason)).toEqual(
      expect.arrayContaining(['no_project', 'no_bot_token', 'bad_signature', 'expired']),
    )
    // And still: a valid sign-in into the project works.
    expect((await signIn({ projectId, initData: valid })).status).toBe(200)
  })
})

/** In-process callers with the server's limits, each from the address it is given. */
function limitedCallerFrom() {
  const limits = createAttemptLimits(database.db)
  const payments = createPaymentServices({ db: database.db, secrets })
  return (clientIp: string) =>
    createCallerFactory(appRouter)(
      createInnerContext({ db: database.db, logger: log, limits, payments }, { clientIp }),
    )
}

describe('Mini App sign-in limits', () => {
  const perIp = ATTEMPT_LIMITS.miniAppSignInPerIp

  it(`a flood of 300 bad signatures from one address is refused with 429 and Retry-After after ${perIp.points}`, async () => {
    const forged = signInitData(ALICE, OTHER_BOT_TOKEN)
    const started = Date.now()
    const answers: Answer[] = []
    for (let i = 0; i < 300; i++) answers.push(await signIn({ projectId, initData: forged }))
    const elapsed = Date.now() - started
    expect(answers.slice(0, perIp.points).map((a) => a.status)).toEqual(
      Array(perIp.points).fill(401),
    )
    const limited = answers.slice(perIp.points)
    expect(new Set(limited.map((a) => a.status))).toEqual(new Set([429]))
    for (const answer of limited) {
      expect(codeOf(answer)).toBe('TOO_MANY_REQUESTS')
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1)
      expect(Number(answer.retryAfter)).toBeLessThanOrEqual(perIp.durationSeconds)
    }
    // While limited, the address cannot sign in at all: the limit is on the address.
    expect((await signIn({ projectId, initData: signInitData(ALICE, BOT_TOKEN) })).status).toBe(429)
    console.info(
      `300 forged sign-ins from one address: ${elapsed} ms, ${limited.length} answered 429`,
    )
  }, 60_000)

  it('a project id in upper case signs in to the same project, with a token that works', async () => {
    const answer = await signIn({
      projectId: projectId.toUpperCase(),
      initData: signInitData({ id: 2_000_003, first_name: 'Carol', is_bot: false }, BOT_TOKEN),
    })
    expect(answer.status).toBe(200)
    const { token } = (answer.body as { result: { data: { token: string } } }).result.data
    const me = await fetch(`${server.url}/trpc/me.session`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(me.status).toBe(200)
  })

  it('200 replays of one valid init data make one session and are never limited', async () => {
    const initData = signInitData({ id: 2_000_002, first_name: 'Bob', is_bot: false }, BOT_TOKEN)
    const before = await sessionsOfProject(projectId)
    const answers: Answer[] = []
    for (let round = 0; round < 10; round++)
      answers.push(
        ...(await Promise.all(Array.from({ length: 20 }, () => signIn({ projectId, initData })))),
      )
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([200]))
    const tokens = answers.map(
      (a) => (a.body as { result: { data: { token: string } } }).result.data.token,
    )
    expect(new Set(tokens).size).toBe(1)
    expect((await sessionsOfProject(projectId)) - before).toBe(1)
  }, 60_000)

  it('limits refusals into one project from many addresses, and an empty init data is counted too', async () => {
    const callerFrom = limitedCallerFrom()
    const perProject = ATTEMPT_LIMITS.miniAppSignInPerProject.points
    const forged = signInitData(ALICE, OTHER_BOT_TOKEN)
    const codes: string[] = []
    // The same project in upper case, as a uuid may be written, is the same project.
    const spellings = [projectId, projectId.toUpperCase()]
    for (let i = 0; i < perProject + 5; i++) {
      const from = `198.51.100.${i % 250}`
      const input = { projectId: spellings[i % 2]!, initData: i % 3 ? forged : '' }
      codes.push(
        await callerFrom(from)
          .miniApp.signIn(input)
          .then(
            () => 'OK',
            (error: TRPCError) => error.code,
          ),
      )
    }
    expect(codes.slice(0, perProject).every((code) => code === 'UNAUTHORIZED')).toBe(true)
    expect(codes.slice(perProject)).toEqual(Array(5).fill('TOO_MANY_REQUESTS'))
    // Another project is not affected.
    const other = await callerFrom('203.0.113.1')
      .miniApp.signIn({ projectId: tokenlessId, initData: forged })
      .catch((error: TRPCError) => error.code)
    expect(other).toBe('UNAUTHORIZED')
  }, 60_000)

  it('counts an IPv6 client by its /64', async () => {
    const caller = limitedCallerFrom()
    const forged = signInitData(ALICE, OTHER_BOT_TOKEN)
    for (let i = 0; i < perIp.points; i++)
      await caller(`2001:db8:0:1::${(i + 1).toString(16)}`)
        .miniApp.signIn({ projectId, initData: forged })
        .catch(() => {})
    const hopped = await caller('2001:db8:0:1:ffff:ffff:ffff:ffff')
      .miniApp.signIn({ projectId, initData: forged })
      .catch((error: TRPCError) => error.code)
    expect(hopped).toBe('TOO_MANY_REQUESTS')
    const [row] = await database.db
      .select()
      .from(rateLimits)
      .where(sql`${rateLimits.key} like 'miniAppSignInPerIp:%'`)
    expect(row?.key).toBe('miniAppSignInPerIp:2001:db8:0:1::/64')
  })
})

describe('console login limits on rate-limiter-flexible', () => {
  const login = (email: string, password: string) =>
    post('operator.auth.login', { email, password })

  it('an email that failed 5 times is refused with 429, Retry-After and retryAt, even with the right password', async () => {
    await createOperator(database.db, {
      email: 'flood@limits.io',
      password: 'password123',
      projectId,
    })
    for (let i = 0; i < ATTEMPT_LIMITS.consoleLoginPerEmail.points; i++)
      expect((await login('flood@limits.io', 'wrong password')).status).toBe(401)
    const limited = await login('Flood@limits.io', 'password123')
    expect(limited.status).toBe(429)
    expect(Number(limited.retryAfter)).toBeGreaterThan(800)
    expect(Number(limited.retryAfter)).toBeLessThanOrEqual(900)
    const billing = (limited.body as { error: { data: { billing: Record<string, unknown> } } })
      .error.data.billing
    expect(billing).toMatchObject({
      code: 'TOO_MANY_LOGIN_ATTEMPTS',
      retryAfterSeconds: Number(limited.retryAfter),
    })
    expect(new Date(String(billing.retryAt)).getTime()).toBeGreaterThan(Date.now() + 800_000)
    // Counted by the library in rate_limits, shared by every replica.
    const [counter] = await database.db
      .select()
      .from(rateLimits)
      .where(eq(rateLimits.key, 'consoleLoginPerEmail:flood@limits.io'))
    expect(counter?.points).toBe(ATTEMPT_LIMITS.consoleLoginPerEmail.points)
  })

  it('a success clears its email’s failures', async () => {
    for (let i = 0; i < 4; i++) await login('owner@limits.io', 'wrong password')
    expect((await login('owner@limits.io', 'password123')).status).toBe(200)
    for (let i = 0; i < 4; i++) expect((await login('owner@limits.io', 'wrong')).status).toBe(401)
    expect((await login('owner@limits.io', 'password123')).status).toBe(200)
  })

  it('an address that tries many emails is refused after 20', async () => {
    for (let i = 0; i < ATTEMPT_LIMITS.consoleLoginPerIp.points; i++)
      expect((await login(`guess${i}@limits.io`, 'wrong')).status).toBe(401)
    expect((await login('owner@limits.io', 'password123')).status).toBe(429)
  })

  it('parallel guesses count against each other: exactly 5 are tried during the slow hash', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => login('parallel@limits.io', `guess ${i}`)),
    )
    const statuses = answers.map((a) => a.status)
    expect(statuses.filter((s) => s === 401)).toHaveLength(
      ATTEMPT_LIMITS.consoleLoginPerEmail.points,
    )
    expect(statuses.filter((s) => s === 429)).toHaveLength(
      30 - ATTEMPT_LIMITS.consoleLoginPerEmail.points,
    )
  })

  it('a NUL in the email is refused before it is counted', async () => {
    expect((await login('a\u0000@limits.io', 'pw')).status).toBe(400)
    expect(await database.db.select().from(rateLimits)).toEqual([])
  })
})
