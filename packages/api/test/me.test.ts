import { randomUUID } from 'node:crypto'
import {
  createApiKey,
  createCustomerSession,
  createOperator,
  createProject,
  createSecrets,
  DEFAULT_CUSTOMER_SESSION_POLICY,
  defineFeature,
  generateSecretKey,
  grantCredits,
  login,
  seedDemoCatalog,
  seedDemoFeatures,
  setBotToken,
} from '@e-stars/billing'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { sign } from '@tma.js/init-data-node'
import { TRPCError } from '@trpc/server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  appRouter,
  createCallerFactory,
  createHttpContextFactory,
  createInnerContext,
  createPaymentServices,
} from '../src/index.ts'
import { silentLogger, useDatabase } from './fixtures.ts'

const t = useDatabase()
const createCaller = createCallerFactory(appRouter)
const secrets = createSecrets(generateSecretKey())
const ALICE = { id: 2_000_001, first_name: 'Alice', username: 'alice' }
const BOB = { id: 2_000_002, first_name: 'Bob' }
let sandbox: Sandbox

beforeAll(async () => {
  sandbox = await createSandbox({
    users: [
      { id: ALICE.id, firstName: 'Alice' },
      { id: BOB.id, firstName: 'Bob' },
    ],
  })
})
afterAll(() => sandbox?.close())

const caller = (input: Parameters<typeof createInnerContext>[1]) =>
  createCaller(
    createInnerContext(
      {
        db: t.db,
        logger: silentLogger,
        payments: createPaymentServices({ db: t.db, secrets, telegramApiRoot: sandbox.apiRoot }),
      },
      input,
    ),
  )

/** A project selling through the sandbox bot, with the demo catalog and features. */
async function shop(name: string, botToken = sandbox.bot().token) {
  const project = await createProject(t.db, { name })
  await setBotToken(t.db, { projectId: project.id, botToken, secrets })
  await seedDemoCatalog(t.db, project.id)
  await seedDemoFeatures(t.db, project.id)
  const key = await createApiKey(t.db, { projectId: project.id, name: 'bot' })
  return { projectId: project.id, apiKey: key.key }
}

const initDataFor = (user: { id: number; first_name: string }, token = sandbox.bot().token) =>
  sign({ user, query_id: randomUUID(), chat_type: 'sender' }, token, new Date())

async function signIn(projectId: string, user: typeof ALICE | typeof BOB = ALICE) {
  const session = await caller({}).miniApp.signIn({ projectId, initData: initDataFor(user) })
  return { ...session, me: caller({ customerToken: session.token }).me }
}

async function refusal(promise: Promise<unknown>) {
  try {
    await promise
  } catch (error) {
    if (!(error instanceof TRPCError)) throw error
    const cause = error.cause as { code?: string; reason?: string } | undefined
    return { code: error.code, billing: cause?.code ?? null, reason: cause?.reason ?? null }
  }
  throw new Error('expected a refusal')
}

const give = (projectId: string, telegramUserId: number, amount: number) =>
  grantCredits(t.db, {
    projectId,
    telegramUserId,
    amount,
    reason: 'welcome',
    source: 'promo',
    actor: 'system',
    idempotencyKey: randomUUID(),
  })

describe('miniApp.signIn', () => {
  it('answers every refused init data with one UNAUTHORIZED "Sign-in refused", the reason only in the log', async () => {
    const { projectId } = await shop('sign-in')
    const signInWith = (initData: string) => caller({}).miniApp.signIn({ projectId, initData })
    const valid = initDataFor(ALICE)
    const refused = { code: 'UNAUTHORIZED', billing: 'INIT_DATA_REJECTED', reason: 'refused' }
    expect(await refusal(signInWith(valid.replace('Alice', 'Mallory')))).toEqual(refused)
    expect(await refusal(signInWith(initDataFor(ALICE, '1000002:another-bot')))).toEqual(refused)
    const old = sign(
      { user: ALICE },
      sandbox.bot().token,
      new Date(Date.now() - (DEFAULT_CUSTOMER_SESSION_POLICY.initDataMaxAgeSeconds + 5) * 1000),
    )
    expect(await refusal(signInWith(old))).toEqual(refused)
    const noUser = sign({ query_id: 'q' }, sandbox.bot().token, new Date())
    expect(await refusal(signInWith(noUser))).toEqual(refused)
    // No init data at all is told apart: it is decided before any project is looked up.
    expect(await refusal(signInWith(''))).toMatchObject({ code: 'UNAUTHORIZED', reason: 'missing' })
    expect(
      await refusal(caller({}).miniApp.signIn({ projectId: randomUUID(), initData: '' })),
    ).toMatchObject({ code: 'UNAUTHORIZED', reason: 'missing' })
    const session = await signInWith(valid)
    expect(session.customer.telegramUserId).toBe(ALICE.id)
  })

  it('honours the configured max age of init data', async () => {
    const { projectId } = await shop('max-age')
    const strict = createCaller(
      createInnerContext(
        {
          db: t.db,
          logger: silentLogger,
          payments: createPaymentServices({ db: t.db, secrets, telegramApiRoot: sandbox.apiRoot }),
          customerSessions: { initDataMaxAgeSeconds: 60, tokenTtlSeconds: 600 },
        },
        {},
      ),
    )
    const twoMinutesOld = sign({ user: ALICE }, sandbox.bot().token, new Date(Date.now() - 120_000))
    expect(
      await refusal(strict.miniApp.signIn({ projectId, initData: twoMinutesOld })),
    ).toMatchObject({ reason: 'refused' })
    const session = await strict.miniApp.signIn({ projectId, initData: initDataFor(ALICE) })
    const ttl = new Date(session.expiresAt).getTime() - Date.now()
    expect(ttl).toBeGreaterThan(590_000)
    expect(ttl).toBeLessThanOrEqual(600_000)
  })

  it('is PRECONDITION_FAILED without payments (SECRET_KEY); a project without a bot token is refused like any', async () => {
    const { projectId } = await shop('no-secrets')
    const bare = createCaller(createInnerContext({ db: t.db, logger: silentLogger }, {}))
    expect(
      await refusal(bare.miniApp.signIn({ projectId, initData: initDataFor(ALICE) })),
    ).toMatchObject({ code: 'PRECONDITION_FAILED' })
    const tokenless = await createProject(t.db, { name: 'tokenless' })
    expect(
      await refusal(
        caller({}).miniApp.signIn({ projectId: tokenless.id, initData: initDataFor(ALICE) }),
      ),
    ).toEqual({ code: 'UNAUTHORIZED', billing: 'INIT_DATA_REJECTED', reason: 'refused' })
  })
})

describe('me.* with a customer token', () => {
  it('reads the signed-in user’s balance, entitlements, quotas, activity and the catalog', async () => {
    const { projectId } = await shop('reads')
    const { me } = await signIn(projectId)
    await give(projectId, ALICE.id, 250)
    expect(await me.balance()).toMatchObject({ available: 250, held: 0, debt: 0 })
    expect(await me.entitlements()).toEqual([])
    const quotas = await me.quotas()
    expect(quotas.find((q) => q.featureKey === 'image')).toMatchObject({
      limit: 10,
      used: 0,
      free: false,
    })
    expect((await me.activity())[0]).toMatchObject({ text: '+250: promo, welcome', change: '+250' })
    expect((await me.products()).map((p) => p.key)).toContain('pack_s')
    expect(await me.check({ feature: 'pro' })).toMatchObject({
      allowed: false,
      reason: 'no_entitlement',
    })
    expect(await me.session()).toMatchObject({
      projectId,
      customer: { telegramUserId: ALICE.id, firstName: 'Alice', username: 'alice' },
    })
  })

  it('buy returns an invoice link the sandbox Telegram can pay', async () => {
    const { projectId } = await shop('buy')
    const { me } = await signIn(projectId)
    const pack = await me.buy({ productKey: 'pack_s' })
    expect(pack).toMatchObject({ kind: 'pack', priceStars: 50 })
    expect(pack.invoiceLink).toMatch(/^https:\/\/t\.me\/\$/)
    const plan = await me.buy({ productKey: 'plus' })
    expect(plan.invoiceLink).toMatch(/^https:\/\/t\.me\/\$/)
    expect(await refusal(me.buy({ productKey: 'nope' }))).toMatchObject({ code: 'NOT_FOUND' })
  })

  it('consume only on client-consumable features', async () => {
    const { projectId } = await shop('consume')
    const { me } = await signIn(projectId)
    await give(projectId, ALICE.id, 100)
    expect(
      await refusal(me.consume({ feature: 'image', quantity: 1, idempotencyKey: 'a' })),
    ).toEqual({ code: 'FORBIDDEN', billing: 'FEATURE_NOT_CLIENT_CONSUMABLE', reason: null })
    await defineFeature(t.db, {
      projectId,
      key: 'hint',
      name: 'Hint',
      kind: 'metered',
      credits: 3,
      clientConsumable: true,
    })
    const used = await me.consume({ feature: 'hint', quantity: 2, idempotencyKey: 'a' })
    expect(used).toMatchObject({ credits: 6, available: 94 })
    expect(await me.consume({ feature: 'hint', quantity: 2, idempotencyKey: 'a' })).toEqual(used)
  })
})

describe('customer token isolation', () => {
  it('never shows another customer of the same project', async () => {
    const { projectId } = await shop('two-users')
    const alice = await signIn(projectId, ALICE)
    const bob = await signIn(projectId, BOB)
    await give(projectId, ALICE.id, 10)
    await give(projectId, BOB.id, 999)
    expect((await alice.me.balance()).available).toBe(10)
    expect((await bob.me.balance()).available).toBe(999)
    expect(JSON.stringify(await alice.me.activity())).not.toContain('999')
  })

  it('never shows the same Telegram user in another project', async () => {
    const a = await shop('project-a')
    const b = await shop('project-b')
    const inA = await signIn(a.projectId)
    await signIn(b.projectId)
    await give(b.projectId, ALICE.id, 5000)
    await give(a.projectId, ALICE.id, 1)
    expect((await inA.me.balance()).available).toBe(1)
    // The token names its project: pointing it at another project finds no session there.
    const retargeted = inA.token.replace(a.projectId, b.projectId)
    expect(await refusal(caller({ customerToken: retargeted }).me.balance())).toMatchObject({
      code: 'UNAUTHORIZED',
      reason: 'unknown',
    })
  })

  it('refuses an expired, an unknown and a missing token', async () => {
    const { projectId } = await shop('expired')
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000)
    const old = await createCustomerSession(t.db, {
      projectId,
      initData: sign({ user: ALICE }, sandbox.bot().token, twoHoursAgo),
      secrets,
      now: twoHoursAgo,
      policy: { initDataMaxAgeSeconds: 86_400 * 365, tokenTtlSeconds: 3_600 },
    })
    expect(await refusal(caller({ customerToken: old.token }).me.balance())).toEqual({
      code: 'UNAUTHORIZED',
      billing: 'CUSTOMER_SESSION_INVALID',
      reason: 'expired',
    })
    expect(
      await refusal(caller({ customerToken: `ecs.${projectId}.${'x'.repeat(43)}` }).me.balance()),
    ).toMatchObject({ code: 'UNAUTHORIZED', reason: 'unknown' })
    expect(await refusal(caller({}).me.balance())).toMatchObject({ code: 'UNAUTHORIZED' })
    const { token, me } = await signIn(projectId)
    await me.signOut()
    expect(await refusal(caller({ customerToken: token }).me.balance())).toMatchObject({
      code: 'UNAUTHORIZED',
      reason: 'unknown',
    })
  })

  it('refuses a bot API key on me.* and a customer token on bot and operator procedures', async () => {
    const { projectId, apiKey } = await shop('cross')
    const { token } = await signIn(projectId)
    expect(await refusal(caller({ apiKey }).me.balance())).toMatchObject({ code: 'FORBIDDEN' })
    expect(await refusal(caller({ apiKey }).me.buy({ productKey: 'pack_s' }))).toMatchObject({
      code: 'FORBIDDEN',
    })
    const asCustomer = caller({ customerToken: token })
    expect(
      await refusal(
        asCustomer.credits.grant({
          telegramUserId: ALICE.id,
          amount: 1_000_000,
          reason: 'free money',
          idempotencyKey: 'x',
        }),
      ),
    ).toMatchObject({ code: 'FORBIDDEN' })
    expect(await refusal(asCustomer.customers.get({ telegramUserId: BOB.id }))).toMatchObject({
      code: 'FORBIDDEN',
    })
    await createOperator(t.db, { email: 'owner@cross.io', password: 'password123', projectId })
    const operator = await login(t.db, {
      email: 'owner@cross.io',
      password: 'password123',
    })
    const both = caller({ customerToken: token, sessionToken: operator.token })
    expect(await refusal(both.operator.projects())).toMatchObject({ code: 'FORBIDDEN' })
    expect(await caller({ sessionToken: operator.token }).operator.projects()).toHaveLength(1)
  })

  it('reads the token from Authorization: Bearer, apart from API keys', async () => {
    const { projectId, apiKey } = await shop('http')
    const { token } = await signIn(projectId)
    const factory = createHttpContextFactory({ db: t.db, logger: silentLogger })
    const fromCustomer = factory({ req: { headers: { authorization: `Bearer ${token}` } } })
    expect(fromCustomer).toMatchObject({ customerToken: token, apiKey: null })
    const fromBot = factory({ req: { headers: { authorization: `Bearer ${apiKey}` } } })
    expect(fromBot).toMatchObject({ customerToken: null, apiKey })
  })
})
