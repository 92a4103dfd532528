import { type Db, rows } from '@e-stars/db'
import { onPostgres } from '@e-stars/db/testing'
import type { CreateInvoiceLinkParams } from '@e-stars/telegram'
import { sign } from '@tma.js/init-data-node'
import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import {
  authenticateCustomerSession,
  BotTokenMissing,
  blockCustomer,
  buyAsCustomer,
  CustomerBlocked,
  type CustomerScope,
  CustomerSessionInvalid,
  consumeAsCustomer,
  createCustomerSession,
  createSecrets,
  customerActivity,
  customerCatalog,
  customerEntitlements,
  customerQuotas,
  DEFAULT_CUSTOMER_SESSION_POLICY,
  defineFeature,
  endCustomerSession,
  FeatureNotClientConsumable,
  generateSecretKey,
  grantCredits,
  grantEntitlementByOperator,
  InitDataRejected,
  MAX_LIVE_SESSIONS_PER_CUSTOMER,
  NotFound,
  purgeCustomerSessions,
  seedDemoCatalog,
  seedDemoFeatures,
  setBotToken,
  verifyInitData,
} from '../src/index.ts'
import { createProject, key, ledgerMismatches, useDatabase } from './fixtures.ts'

const BOT_TOKEN = '1000001:sandbox'
const OTHER_BOT_TOKEN = '1000002:another-bot'
const ALICE = { id: 2_000_001, first_name: 'Alice', username: 'alice', language_code: 'en' }
const secrets = createSecrets(generateSecretKey())
const T0 = new Date('2026-11-20T10:00:00Z')
const MAX_AGE = DEFAULT_CUSTOMER_SESSION_POLICY.initDataMaxAgeSeconds

/** Init data as Telegram makes it: signed with the bot token at `authDate`. */
const initData = (
  user: typeof ALICE | null = ALICE,
  options: { token?: string; authDate?: Date } = {},
) =>
  sign(
    { ...(user ? { user } : {}), query_id: 'AAHdF6IQAAAAAN0XohDhrOrc', chat_type: 'sender' },
    options.token ?? BOT_TOKEN,
    options.authDate ?? T0,
  )

/** The reason a call was refused with, or 'accepted'. */
async function reasonOf(run: () => unknown): Promise<string> {
  try {
    await run()
    return 'accepted'
  } catch (error) {
    if (error instanceof InitDataRejected) return error.reason
    if (error instanceof CustomerSessionInvalid) return `session:${error.reason}`
    throw error
  }
}

describe('verifyInitData', () => {
  const verify = (data: string, token = BOT_TOKEN, now = T0) =>
    verifyInitData(data, token, { maxAgeSeconds: MAX_AGE, now })

  it('accepts init data signed with the bot token and returns its user', () => {
    const verified = verify(initData())
    expect(verified.user).toEqual({
      id: ALICE.id,
      firstName: 'Alice',
      lastName: null,
      username: 'alice',
      languageCode: 'en',
      isPremium: false,
    })
    expect(verified.authDate.toISOString()).toBe(T0.toISOString())
    expect(verified.queryId).toBe('AAHdF6IQAAAAAN0XohDhrOrc')
  })

  it('refuses each kind of bad init data with its reason', async () => {
    const valid = initData()
    const tampered = valid.replace(encodeURIComponent('"Alice"'), encodeURIComponent('"Mallory"'))
    expect(tampered).not.toBe(valid)
    const userSwapped = valid.replace(String(ALICE.id), '2000002')
    expect(await reasonOf(() => verify(tampered))).toBe('bad_signature')
    expect(await reasonOf(() => verify(userSwapped))).toBe('bad_signature')
    expect(await reasonOf(() => verify(valid, OTHER_BOT_TOKEN))).toBe('bad_signature')
    expect(await reasonOf(() => verify(initData(ALICE, { token: OTHER_BOT_TOKEN })))).toBe(
      'bad_signature',
    )
    const old = initData(ALICE, { authDate: new Date(T0.getTime() - (MAX_AGE + 1) * 1000) })
    expect(await reasonOf(() => verify(old))).toBe('expired')
    const future = initData(ALICE, { authDate: new Date(T0.getTime() + 10 * 60_000) })
    expect(await reasonOf(() => verify(future))).toBe('from_future')
    expect(await reasonOf(() => verify(initData(null)))).toBe('no_user')
    expect(await reasonOf(() => verify(''))).toBe('missing')
    expect(await reasonOf(() => verify('user=%7B%7D&auth_date=1'))).toBe('malformed')
    expect(await reasonOf(() => verify('auth_date=abc&hash=00'))).toBe('malformed')
    expect(await reasonOf(() => verify(valid.replace(/hash=[0-9a-f]+/, 'hash=')))).toBe('malformed')
  })

  it('accepts init data up to the max age and refuses the same one replayed after it', async () => {
    const data = initData()
    const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000)
    expect(await reasonOf(() => verify(data, BOT_TOKEN, at(MAX_AGE)))).toBe('accepted')
    expect(await reasonOf(() => verify(data, BOT_TOKEN, at(MAX_AGE + 1)))).toBe('expired')
    const short = () => verifyInitData(data, BOT_TOKEN, { maxAgeSeconds: 60, now: at(61) })
    expect(await reasonOf(short)).toBe('expired')
  })
})

async function projectWithBot(db: Db, token: string | null = BOT_TOKEN) {
  const projectId = await createProject(db)
  if (token) await setBotToken(db, { projectId, botToken: token, secrets })
  return projectId
}

const countCustomers = async (db: Db, projectId: string) =>
  Number(
    (
      await rows<{ n: string }>(
        db,
        sql`select count(*) n from customers where project_id = ${projectId}`,
      )
    )[0]!.n,
  )

describe('customer sessions', () => {
  const handle = useDatabase()

  it('signs a user in: upserts the customer and returns a token for one project and customer', async () => {
    const projectId = await projectWithBot(handle.db)
    const session = await createCustomerSession(handle.db, {
      projectId,
      initData: initData(),
      secrets,
      now: T0,
    })
    expect(session.token).toMatch(/^ecs\./)
    expect(session.token).toContain(projectId)
    expect(session.expiresAt).toBe(new Date(T0.getTime() + 3_600_000).toISOString())
    expect(session.customer).toEqual({
      telegramUserId: ALICE.id,
      firstName: 'Alice',
      username: 'alice',
      languageCode: 'en',
    })
    const who = await authenticateCustomerSession(handle.db, session.token, T0)
    expect(who).toMatchObject({ projectId, telegramUserId: ALICE.id })
    const [stored] = await rows<{ token_hash: string }>(
      handle.db,
      sql`select token_hash from customer_sessions where project_id = ${projectId}`,
    )
    expect(stored!.token_hash).toMatch(/^[0-9a-f]{64}$/)
    expect(stored!.token_hash).not.toContain(session.token.split('.')[2]!)
  })

  it('writes nothing when the init data is refused', async () => {
    const projectId = await projectWithBot(handle.db)
    const refused = await reasonOf(() =>
      createCustomerSession(handle.db, {
        projectId,
        initData: initData(ALICE, { token: OTHER_BOT_TOKEN }),
        secrets,
        now: T0,
      }),
    )
    expect(refused).toBe('bad_signature')
    expect(await countCustomers(handle.db, projectId)).toBe(0)
  })

  it('verifies against the bot of the project named, not any project', async () => {
    const ours = await projectWithBot(handle.db, BOT_TOKEN)
    const theirs = await projectWithBot(handle.db, OTHER_BOT_TOKEN)
    const data = initData()
    expect(
      await reasonOf(() =>
        createCustomerSession(handle.db, { projectId: ours, initData: data, secrets, now: T0 }),
      ),
    ).toBe('accepted')
    expect(
      await reasonOf(() =>
        createCustomerSession(handle.db, { projectId: theirs, initData: data, secrets, now: T0 }),
      ),
    ).toBe('bad_signature')
  })

  it('refuses a replay of old init data, a project without a bot token, an unknown project and a blocked customer', async () => {
    const projectId = await projectWithBot(handle.db)
    const data = initData()
    await createCustomerSession(handle.db, { projectId, initData: data, secrets, now: T0 })
    const later = new Date(T0.getTime() + (MAX_AGE + 60) * 1000)
    expect(
      await reasonOf(() =>
        createCustomerSession(handle.db, { projectId, initData: data, secrets, now: later }),
      ),
    ).toBe('expired')
    const tokenless = await projectWithBot(handle.db, null)
    await expect(
      createCustomerSession(handle.db, { projectId: tokenless, initData: data, secrets, now: T0 }),
    ).rejects.toBeInstanceOf(BotTokenMissing)
    await expect(
      createCustomerSession(handle.db, {
        projectId: '00000000-0000-4000-8000-000000000000',
        initData: data,
        secrets,
        now: T0,
      }),
    ).rejects.toBeInstanceOf(NotFound)
    await blockCustomer(handle.db, { projectId, telegramUserId: ALICE.id })
    await expect(
      createCustomerSession(handle.db, { projectId, initData: data, secrets, now: T0 }),
    ).rejects.toBeInstanceOf(CustomerBlocked)
  })

  it('refuses expired, unknown, malformed, ended and re-targeted tokens', async () => {
    const projectId = await projectWithBot(handle.db)
    const other = await projectWithBot(handle.db)
    const { token } = await createCustomerSession(handle.db, {
      projectId,
      initData: initData(),
      secrets,
      now: T0,
    })
    const ttl = DEFAULT_CUSTOMER_SESSION_POLICY.tokenTtlSeconds * 1000
    const auth = (t: string, at = T0) => authenticateCustomerSession(handle.db, t, at)
    expect(await reasonOf(() => auth(token, new Date(T0.getTime() + ttl - 1)))).toBe('accepted')
    expect(await reasonOf(() => auth(token, new Date(T0.getTime() + ttl)))).toBe('session:expired')
    expect(await reasonOf(() => auth(token.replace(projectId, other)))).toBe('session:unknown')
    const flipped = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`
    expect(await reasonOf(() => auth(flipped))).toBe('session:unknown')
    expect(await reasonOf(() => auth('esk_notacustomertoken'))).toBe('session:malformed')
    expect(await endCustomerSession(handle.db, token)).toEqual({ ended: true })
    expect(await reasonOf(() => auth(token))).toBe('session:unknown')
    expect(await endCustomerSession(handle.db, token)).toEqual({ ended: false })
  })

  it('purges expired sessions, and a new sign-in drops the customer’s expired ones', async () => {
    const projectId = await projectWithBot(handle.db)
    const count = async () =>
      Number(
        (
          await rows<{ n: string }>(
            handle.db,
            sql`select count(*) n from customer_sessions where project_id = ${projectId}`,
          )
        )[0]!.n,
      )
    await createCustomerSession(handle.db, { projectId, initData: initData(), secrets, now: T0 })
    const later = new Date(T0.getTime() + 2 * 3_600_000)
    await createCustomerSession(handle.db, {
      projectId,
      initData: initData(ALICE, { authDate: later }),
      secrets,
      now: later,
    })
    expect(await count()).toBe(1)
    // Global: other tests' expired sessions go too.
    expect(
      await purgeCustomerSessions(handle.db, new Date(later.getTime() + 3_600_000)),
    ).toBeGreaterThanOrEqual(1)
    expect(await count()).toBe(0)
  })
})

describe('replayed init data and the bound on live sessions', () => {
  const handle = useDatabase()
  const sessionCount = async (projectId: string) =>
    Number(
      (
        await rows<{ n: string }>(
          handle.db,
          sql`select count(*) n from customer_sessions where project_id = ${projectId}`,
        )
      )[0]!.n,
    )

  it('the same init data again returns its live session: one row, one token, one expiry', async () => {
    const projectId = await projectWithBot(handle.db)
    const data = initData()
    const first = await createCustomerSession(handle.db, {
      projectId,
      initData: data,
      secrets,
      now: T0,
    })
    for (let i = 1; i <= 20; i++) {
      const again = await createCustomerSession(handle.db, {
        projectId,
        initData: data,
        secrets,
        now: new Date(T0.getTime() + i * 60_000),
      })
      expect(again).toEqual(first)
    }
    expect(await sessionCount(projectId)).toBe(1)
    // Another opening of the Mini App (new init data) is another session.
    const next = await createCustomerSession(handle.db, {
      projectId,
      initData: initData(ALICE, { authDate: new Date(T0.getTime() + 1000) }),
      secrets,
      now: T0,
    })
    expect(next.token).not.toBe(first.token)
    expect(await sessionCount(projectId)).toBe(2)
  })

  it('the same init data in another project (same bot token) is another session', async () => {
    const ours = await projectWithBot(handle.db)
    const twin = await projectWithBot(handle.db)
    const data = initData()
    const a = await createCustomerSession(handle.db, {
      projectId: ours,
      initData: data,
      secrets,
      now: T0,
    })
    const b = await createCustomerSession(handle.db, {
      projectId: twin,
      initData: data,
      secrets,
      now: T0,
    })
    expect(a.token).not.toBe(b.token)
    expect(await authenticateCustomerSession(handle.db, b.token, T0)).toMatchObject({
      projectId: twin,
    })
  })

  it(`a customer holds at most ${MAX_LIVE_SESSIONS_PER_CUSTOMER} live sessions: one more ends the oldest`, async () => {
    const projectId = await projectWithBot(handle.db)
    const opened = []
    for (let i = 0; i < MAX_LIVE_SESSIONS_PER_CUSTOMER + 2; i++) {
      const at = new Date(T0.getTime() + i * 1000)
      opened.push(
        await createCustomerSession(handle.db, {
          projectId,
          initData: initData(ALICE, { authDate: at }),
          secrets,
          now: at,
        }),
      )
    }
    expect(await sessionCount(projectId)).toBe(MAX_LIVE_SESSIONS_PER_CUSTOMER)
    const auth = (token: string) =>
      reasonOf(() => authenticateCustomerSession(handle.db, token, new Date(T0.getTime() + 60_000)))
    expect(await auth(opened[0]!.token)).toBe('session:unknown')
    expect(await auth(opened[1]!.token)).toBe('session:unknown')
    for (const session of opened.slice(2)) expect(await auth(session.token)).toBe('accepted')
  })
})

describe('what a signed-in customer reads and does', () => {
  const handle = useDatabase()

  async function signedIn() {
    const projectId = await projectWithBot(handle.db)
    await seedDemoCatalog(handle.db, projectId)
    await seedDemoFeatures(handle.db, projectId)
    const session = await createCustomerSession(handle.db, {
      projectId,
      initData: initData(),
      secrets,
      now: new Date(),
      policy: { ...DEFAULT_CUSTOMER_SESSION_POLICY, initDataMaxAgeSeconds: 10 * 365 * 86_400 },
    })
    const who = await authenticateCustomerSession(handle.db, session.token)
    const scope: CustomerScope = who
    return { projectId, scope }
  }

  it('buy makes a one-time link for a pack and a subscription link for a plan', async () => {
    const { scope } = await signedIn()
    const links: CreateInvoiceLinkParams[] = []
    const createInvoiceLink = async (params: CreateInvoiceLinkParams) => {
      links.push(params)
      return `https://t.me/$link${links.length}`
    }
    const pack = await buyAsCustomer(handle.db, {
      ...scope,
      productKey: 'pack_s',
      secrets,
      createInvoiceLink,
    })
    expect(pack).toMatchObject({ productKey: 'pack_s', kind: 'pack', priceStars: 50 })
    expect(pack.invoiceLink).toBe('https://t.me/$link1')
    expect(links[0]).toMatchObject({ currency: 'XTR', prices: [{ amount: 50 }] })
    expect(links[0]).not.toHaveProperty('chat_id')
    expect(links[0]).not.toHaveProperty('subscription_period')
    expect(secrets.verifyOrderRef(scope.projectId, links[0]!.payload)).toEqual({
      ok: true,
      orderId: pack.orderId,
    })
    const plan = await buyAsCustomer(handle.db, {
      ...scope,
      productKey: 'plus',
      secrets,
      createInvoiceLink,
    })
    expect(plan.kind).toBe('subscription')
    expect(links[1]).toMatchObject({ subscription_period: 2_592_000 })
    const [order] = await rows<{ invoice_link: string; status: string }>(
      handle.db,
      sql`select invoice_link, status from orders where id = ${pack.orderId}`,
    )
    expect(order).toEqual({ invoice_link: 'https://t.me/$link1', status: 'open' })
  })

  it('a failed link cancels the order it made', async () => {
    const { scope } = await signedIn()
    const failing = async () => {
      throw new Error('network down')
    }
    await expect(
      buyAsCustomer(handle.db, {
        ...scope,
        productKey: 'pack_m',
        secrets,
        createInvoiceLink: failing,
      }),
    ).rejects.toThrow('network down')
    const [order] = await rows<{ status: string }>(
      handle.db,
      sql`select status from orders where project_id = ${scope.projectId} and product_key = 'pack_m'`,
    )
    expect(order!.status).toBe('cancelled')
  })

  it('consume works only for client-consumable features, scoped idempotency', async () => {
    const { projectId, scope } = await signedIn()
    await grantCredits(handle.db, {
      projectId,
      telegramUserId: scope.telegramUserId,
      amount: 100,
      reason: 'promo',
      source: 'promo',
      actor: 'test',
      idempotencyKey: key(),
    })
    const consume = (feature: string, idempotencyKey = key()) =>
      consumeAsCustomer(handle.db, { ...scope, feature, quantity: 1, idempotencyKey })
    await expect(consume('image')).rejects.toBeInstanceOf(FeatureNotClientConsumable)
    await expect(consume('nope')).rejects.toBeInstanceOf(NotFound)
    await defineFeature(handle.db, {
      projectId,
      key: 'sticker',
      name: 'Sticker',
      kind: 'metered',
      credits: 5,
      clientConsumable: true,
    })
    const same = key()
    const first = await consume('sticker', same)
    const again = await consume('sticker', same)
    expect(first).toEqual(again)
    expect(first).toMatchObject({ credits: 5, available: 95 })
    expect(await ledgerMismatches(handle.db)).toEqual([])
  })

  it('reads entitlements, quotas with reset times, activity in plain words and the catalog', async () => {
    const { projectId, scope } = await signedIn()
    const quotas = await customerQuotas(handle.db, scope)
    const images = quotas.find((q) => q.featureKey === 'image')!
    expect(images).toMatchObject({ free: false, limit: 10, used: 0, remaining: 10 })
    expect(new Date(images.resetsAt!).getTime()).toBeGreaterThan(Date.now())
    expect(quotas.find((q) => q.featureKey === 'ai.tokens')).toMatchObject({ free: true })
    await grantEntitlementByOperator(handle.db, {
      projectId,
      telegramUserId: scope.telegramUserId,
      featureKey: 'pro',
      durationDays: 30,
      actor: 'operator:carol@example.com',
    })
    await grantCredits(handle.db, {
      projectId,
      telegramUserId: scope.telegramUserId,
      amount: 300,
      reason: 'sorry for the outage',
      source: 'manual',
      actor: 'operator:carol@example.com',
      idempotencyKey: key(),
    })
    // Holders of `pro` (which `plus` grants) get the plus product's 200 images a day.
    const withPro = await customerQuotas(handle.db, scope)
    expect(withPro.find((q) => q.featureKey === 'image')).toMatchObject({ limit: 200 })
    const entitlements = await customerEntitlements(handle.db, scope)
    expect(entitlements).toHaveLength(1)
    expect(entitlements[0]).toMatchObject({ featureKey: 'pro', featureName: 'Pro mode' })
    const activity = await customerActivity(handle.db, scope)
    expect(activity[0]!.text).toBe('+300: sorry for the outage (granted by support)')
    expect(JSON.stringify(activity)).not.toContain('carol')
    const catalog = await customerCatalog(handle.db, scope)
    expect(catalog.map((p) => p.key)).toEqual([
      'pack_s',
      'pack_m',
      'pack_l',
      'pro_30d',
      'pro_lifetime',
      'plus',
    ])
    expect(catalog[0]).not.toHaveProperty('id')
  })

  it('never reads another customer of the same project', async () => {
    const { projectId, scope } = await signedIn()
    await grantCredits(handle.db, {
      projectId,
      telegramUserId: 2_000_002,
      amount: 777,
      reason: 'bob only',
      source: 'promo',
      actor: 'test',
      idempotencyKey: key(),
    })
    expect(JSON.stringify(await customerActivity(handle.db, scope))).not.toContain('bob only')
  })
})

if (!onPostgres)
  console.warn(
    'customer-sessions: concurrent sign-ins need PostgreSQL (TEST_DATABASE_URL); skipped',
  )

describe.skipIf(!onPostgres)('concurrent sign-ins (PostgreSQL)', () => {
  const handle = useDatabase({ poolSize: 12 })

  it('a new user signing in ten times at once with one init data becomes one customer with one session', async () => {
    const projectId = await projectWithBot(handle.db)
    const data = initData(ALICE, { authDate: new Date() })
    const sessions = await Promise.all(
      Array.from({ length: 10 }, () =>
        createCustomerSession(handle.db, { projectId, initData: data, secrets }),
      ),
    )
    expect(new Set(sessions.map((s) => s.token)).size).toBe(1)
    expect(
      (
        await rows<{ n: string }>(
          handle.db,
          sql`select count(*) n from customer_sessions where project_id = ${projectId}`,
        )
      )[0]!.n,
    ).toBe('1')
    expect(await countCustomers(handle.db, projectId)).toBe(1)
    const who = await Promise.all(
      sessions.map((s) => authenticateCustomerSession(handle.db, s.token)),
    )
    expect(new Set(who.map((w) => w.customerId)).size).toBe(1)
  })
})
