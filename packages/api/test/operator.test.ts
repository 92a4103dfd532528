import { randomUUID } from 'node:crypto'
import { createApiKey, createOperator, createProject, grantCredits } from '@e-stars/billing'
import { type Db, operatorSessions } from '@e-stars/db'
import { TRPCError } from '@trpc/server'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  appRouter,
  createCallerFactory,
  createInnerContext,
  readCookie,
  SESSION_COOKIE,
  sessionCookieHeader,
} from '../src/index.ts'
import { silentLogger, useDatabase } from './fixtures.ts'

const t = useDatabase()
const createCaller = createCallerFactory(appRouter)

async function errorOf(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TRPCError)
  return error as TRPCError
}

/** A caller as the console's browser is: cookie jar, CSRF header, address. */
function browser(db: Db, ip = '192.0.2.1') {
  const jar = { token: null as string | null, csrf: null as string | null, cleared: 0 }
  const caller = (overrides: { csrf?: string | null; apiKey?: string | null } = {}) =>
    createCaller(
      createInnerContext(
        { db, logger: silentLogger },
        {
          sessionToken: jar.token,
          csrfToken: overrides.csrf === undefined ? jar.csrf : overrides.csrf,
          apiKey: overrides.apiKey ?? null,
          clientIp: ip,
          sessionCookie: {
            set: (token) => {
              jar.token = token
            },
            clear: () => {
              jar.token = null
              jar.cleared++
            },
          },
        },
      ),
    )
  return {
    jar,
    caller,
    async login(email: string, password = 'password123') {
      const session = await caller().operator.auth.login({ email, password })
      jar.csrf = session.csrfToken
      return session
    },
  }
}

let projectId: string
let otherProjectId: string

beforeAll(async () => {
  projectId = (await createProject(t.db, { name: 'Console' })).id
  otherProjectId = (await createProject(t.db, { name: 'Other' })).id
  await createOperator(t.db, { email: 'owner@x.io', password: 'password123', projectId })
  await createOperator(t.db, {
    email: 'viewer@x.io',
    password: 'password123',
    projectId,
    role: 'viewer',
  })
  await createOperator(t.db, {
    email: 'stranger@x.io',
    password: 'password123',
    projectId: otherProjectId,
  })
  await grantCredits(t.db, {
    projectId,
    telegramUserId: 77,
    amount: 100,
    reason: 'Welcome',
    source: 'promo',
    actor: 'system',
    idempotencyKey: randomUUID(),
    profile: { username: 'dora', firstName: 'Dora' },
  })
})

describe('operator login and session', () => {
  it('sets the session cookie on login and never returns the token in the body', async () => {
    const b = browser(t.db)
    const session = await b.login('owner@x.io')
    expect(b.jar.token).toMatch(/^[\w-]{43}$/)
    expect(JSON.stringify(session)).not.toContain(b.jar.token!)
    expect(session.projects).toEqual([
      expect.objectContaining({ id: projectId, role: 'owner', name: 'Console' }),
    ])
    const current = await b.caller().operator.auth.session()
    expect(current).toMatchObject({ operator: { email: 'owner@x.io' }, csrfToken: b.jar.csrf })
  })

  // The flood limit is the server's (rate-limiter-flexible): apps/server/test/sign-in-limits.test.ts.
  it('answers a wrong password with UNAUTHORIZED', async () => {
    const b = browser(t.db, '198.51.100.7')
    await createOperator(t.db, { email: 'flood@x.io', password: 'password123', projectId })
    const wrong = await errorOf(b.login('flood@x.io', 'wrong password'))
    expect(wrong.code).toBe('UNAUTHORIZED')
    expect(b.jar.token).toBeNull()
  })

  it('logs out: the session stops working and the cookie is cleared', async () => {
    const b = browser(t.db)
    await b.login('owner@x.io')
    const token = b.jar.token
    await b.caller().operator.auth.logout()
    expect(b.jar.token).toBeNull()
    b.jar.token = token
    expect(await b.caller().operator.auth.session()).toBeNull()
    const error = await errorOf(b.caller().operator.projects())
    expect(error.code).toBe('UNAUTHORIZED')
  })

  it('refuses an expired session and clears its cookie', async () => {
    const b = browser(t.db)
    await b.login('owner@x.io')
    await t.db.update(operatorSessions).set({ expiresAt: new Date(Date.now() - 1000) })
    const error = await errorOf(b.caller().operator.customers.search({ projectId }))
    expect(error.code).toBe('UNAUTHORIZED')
    expect(error.message).toMatch(/expired/)
    expect(b.jar.cleared).toBe(1)
  })

  it('without a cookie, operator procedures are UNAUTHORIZED', async () => {
    const error = await errorOf(browser(t.db).caller().operator.customers.search({ projectId }))
    expect(error.code).toBe('UNAUTHORIZED')
  })
})

describe('operator authorization', () => {
  it('rejects bot API keys on operator procedures, even with a valid session', async () => {
    const key = await createApiKey(t.db, { projectId, name: 'bot' })
    const b = browser(t.db)
    await b.login('owner@x.io')
    const error = await errorOf(
      b.caller({ apiKey: key.key }).operator.customers.search({ projectId }),
    )
    expect(error.code).toBe('FORBIDDEN')
    const alone = await errorOf(
      createCaller(
        createInnerContext({ db: t.db, logger: silentLogger }, { apiKey: key.key }),
      ).operator.customers.search({ projectId }),
    )
    expect(alone.code).toBe('FORBIDDEN')
  })

  it('rejects session cookies on bot procedures', async () => {
    const b = browser(t.db)
    await b.login('owner@x.io')
    const error = await errorOf(b.caller().credits.balance({ telegramUserId: 77 }))
    expect(error.code).toBe('UNAUTHORIZED')
  })

  it("refuses another project's operator", async () => {
    const b = browser(t.db)
    await b.login('stranger@x.io')
    const read = await errorOf(b.caller().operator.customers.search({ projectId }))
    expect(read.code).toBe('FORBIDDEN')
    const write = await errorOf(
      b.caller().operator.customers.adjust({
        projectId,
        telegramUserId: 77,
        amount: 5,
        reason: 'sneaky',
        idempotencyKey: randomUUID(),
      }),
    )
    expect(write.code).toBe('FORBIDDEN')
    const own = await b.caller().operator.customers.search({ projectId: otherProjectId })
    expect(own.customers).toEqual([])
  })

  it('lets a viewer read but not change anything', async () => {
    const b = browser(t.db)
    await b.login('viewer@x.io')
    const page = await b.caller().operator.customers.search({ projectId, query: 'dor' })
    expect(page.customers.map((c) => c.username)).toEqual(['dora'])
    for (const attempt of [
      () =>
        b.caller().operator.customers.adjust({
          projectId,
          telegramUserId: 77,
          amount: 5,
          reason: 'viewer',
          idempotencyKey: randomUUID(),
        }),
      () => b.caller().operator.apiKeys.create({ projectId, name: 'viewer key' }),
      () => b.caller().operator.settings.update({ projectId, name: 'renamed' }),
    ]) {
      expect((await errorOf(attempt())).code).toBe('FORBIDDEN')
    }
  })

  it('requires the CSRF token on every mutation', async () => {
    const b = browser(t.db)
    await b.login('owner@x.io')
    const input = {
      projectId,
      telegramUserId: 77,
      amount: 10,
      reason: 'goodwill',
      idempotencyKey: randomUUID(),
    }
    for (const csrf of [null, 'wrong-token', `${b.jar.csrf}x`]) {
      const error = await errorOf(b.caller({ csrf }).operator.customers.adjust(input))
      expect(error.code).toBe('FORBIDDEN')
      expect(error.message).toMatch(/csrf/i)
    }
    // Queries do not need it; a mutation with the right token goes through.
    await b.caller({ csrf: null }).operator.customers.detail({ projectId, telegramUserId: 77 })
    const done = await b.caller().operator.customers.adjust(input)
    expect(done.available).toBe(110)
  })
})

describe('operator procedures', () => {
  it('grants with a reason and shows it in the timeline and the audit log', async () => {
    const b = browser(t.db)
    await b.login('owner@x.io')
    await b.caller().operator.customers.adjust({
      projectId,
      telegramUserId: 77,
      amount: -5,
      reason: 'test cleanup',
      idempotencyKey: randomUUID(),
    })
    const timeline = await b.caller().operator.customers.timeline({ projectId, telegramUserId: 77 })
    expect(timeline.entries[0]!.text).toBe('\u22125 adjusted by owner: test cleanup')
    const audit = await b.caller().operator.audit.list({ projectId })
    expect(audit.entries[0]).toMatchObject({
      actor: 'operator:owner@x.io',
      action: 'credits.adjust',
      target: 'customer:77',
    })
    const bad = await errorOf(
      b.caller().operator.customers.adjust({
        projectId,
        telegramUserId: 77,
        amount: 0,
        reason: '',
        idempotencyKey: randomUUID(),
      }),
    )
    expect(bad.code).toBe('BAD_REQUEST')
    const missing = await errorOf(
      b.caller().operator.customers.detail({ projectId, telegramUserId: 404 }),
    )
    expect(missing.code).toBe('NOT_FOUND')
  })

  it('creates an API key shown once, lists only its prefix, revokes it', async () => {
    const b = browser(t.db)
    await b.login('owner@x.io')
    const created = await b.caller().operator.apiKeys.create({ projectId, name: 'prod bot' })
    expect(created.key).toMatch(/^esk_/)
    const list = await b.caller().operator.apiKeys.list({ projectId })
    expect(JSON.stringify(list)).not.toContain(created.key)
    expect(list.find((k) => k.id === created.id)).toMatchObject({
      prefix: created.key.slice(0, 10),
    })
    await b.caller().operator.apiKeys.revoke({ projectId, keyId: created.id })
    const bot = createCaller(
      createInnerContext({ db: t.db, logger: silentLogger }, { apiKey: created.key }),
    )
    expect((await errorOf(bot.project.whoami())).code).toBe('UNAUTHORIZED')
  })

  it('reads the overview for a period and rejects a reversed one', async () => {
    const b = browser(t.db)
    await b.login('viewer@x.io')
    const to = new Date()
    const from = new Date(to.getTime() - 7 * 86_400_000)
    const overview = await b
      .caller()
      .operator.overview.get({ projectId, from: from.toISOString(), to: to.toISOString() })
    expect(overview.creditsGranted).toBeGreaterThanOrEqual(100)
    expect(overview.days.length).toBeGreaterThanOrEqual(7)
    const reversed = await errorOf(
      b
        .caller()
        .operator.overview.get({ projectId, from: to.toISOString(), to: from.toISOString() }),
    )
    expect(reversed.code).toBe('BAD_REQUEST')
  })

  it('updates settings (owner) and refuses an unknown time zone', async () => {
    const b = browser(t.db)
    await b.login('owner@x.io')
    const updated = await b
      .caller()
      .operator.settings.update({ projectId, timeZone: 'Europe/Paris', lowBalanceThreshold: 10 })
    expect(updated).toMatchObject({ timeZone: 'Europe/Paris', lowBalanceThreshold: 10 })
    const bad = await errorOf(
      b.caller().operator.settings.update({ projectId, timeZone: 'Nowhere/Land' }),
    )
    expect(bad.code).toBe('BAD_REQUEST')
  })
})

describe('the session cookie', () => {
  it('is httpOnly, SameSite=Strict, path /, Secure only over https; clearing expires it', () => {
    const expires = new Date('2030-01-01T00:00:00Z')
    expect(sessionCookieHeader('abc', { expiresAt: expires, secure: true })).toBe(
      `${SESSION_COOKIE}=abc; Path=/; HttpOnly; SameSite=Strict; Expires=${expires.toUTCString()}; Secure`,
    )
    expect(sessionCookieHeader(null, { secure: false })).toBe(
      `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0`,
    )
    expect(readCookie(`a=1; ${SESSION_COOKIE}=x%2Fy; b=2`, SESSION_COOKIE)).toBe('x/y')
    expect(readCookie('a=1', SESSION_COOKIE)).toBeNull()
    expect(readCookie(undefined, SESSION_COOKIE)).toBeNull()
  })

  it('stores only the hash of the token', async () => {
    const b = browser(t.db)
    await b.login('owner@x.io')
    const stored = await t.db
      .select({ tokenHash: operatorSessions.tokenHash })
      .from(operatorSessions)
    expect(stored.map((s) => s.tokenHash)).not.toContain(b.jar.token)
  })
})
