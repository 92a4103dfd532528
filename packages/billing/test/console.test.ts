import { randomUUID } from 'node:crypto'
import { auditLog, operatorSessions, payments, rows } from '@e-stars/db'
import { eq, sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import {
  adjustCredits,
  authenticateSession,
  consume,
  createOperator,
  createProjectApiKey,
  describeEntry,
  formatCount,
  getCustomerDetail,
  getOverview,
  getProjectSettings,
  InsufficientCredits,
  InvalidCredentials,
  InvalidInput,
  listAuditLog,
  listTimeline,
  login,
  logout,
  membershipOf,
  NotFound,
  revokeProjectApiKey,
  searchCustomers,
  updateProjectSettings,
  upsertCustomer,
} from '../src/index.ts'
import { createProject, fund, key, ledgerMismatches, useDatabase } from './fixtures.ts'

const t = useDatabase()

describe('operator sessions', () => {
  it('logs in with the right password and lists the projects with roles', async () => {
    const projectId = await createProject(t.db, 'sessions')
    await createOperator(t.db, {
      email: 'Alice@Example.com',
      password: 'correct horse',
      projectId,
      role: 'owner',
    })
    const session = await login(t.db, {
      email: 'alice@example.com',
      password: 'correct horse',
    })
    expect(session.token).toMatch(/^[\w-]{43}$/)
    expect(session.projects).toEqual([
      { id: projectId, name: 'sessions', timeZone: 'UTC', role: 'owner' },
    ])
    const [stored] = await t.db.select().from(operatorSessions)
    expect(stored!.tokenHash).not.toBe(session.token)
    const authenticated = await authenticateSession(t.db, session.token)
    expect(authenticated).toMatchObject({
      operator: { email: 'alice@example.com' },
      csrfToken: session.csrfToken,
    })
    expect(await membershipOf(t.db, authenticated!.operator.id, projectId)).toBe('owner')
    expect(await membershipOf(t.db, authenticated!.operator.id, randomUUID())).toBeNull()
  })

  it('refuses a wrong password and an unknown email alike', async () => {
    await expect(
      login(t.db, { email: 'alice@example.com', password: 'wrong' }),
    ).rejects.toBeInstanceOf(InvalidCredentials)
    await expect(
      login(t.db, { email: 'nobody@example.com', password: 'correct horse' }),
    ).rejects.toBeInstanceOf(InvalidCredentials)
  })

  it('expires an idle session, slides an active one, and forgets it on logout', async () => {
    const start = new Date('2031-01-01T00:00:00Z')
    const session = await login(t.db, {
      email: 'alice@example.com',
      password: 'correct horse',
      now: start,
    })
    const policy = { idleMs: 60 * 60_000, absoluteMs: 3 * 60 * 60_000 }
    // 8 h idle by default: still valid after 7 h, and the expiry slides from there.
    const at7h = new Date(start.getTime() + 7 * 3_600_000)
    const slid = await authenticateSession(t.db, session.token, { now: at7h })
    expect(slid?.renewed).toBe(true)
    expect(slid?.expiresAt).toBe(new Date(at7h.getTime() + 8 * 3_600_000).toISOString())
    expect(
      await authenticateSession(t.db, session.token, {
        now: new Date(at7h.getTime() + 8 * 3_600_000 + 1),
      }),
    ).toBeNull()
    // The absolute limit holds however active the operator is.
    const short = await login(t.db, {
      email: 'alice@example.com',
      password: 'correct horse',
      now: start,
      policy,
    })
    let now = start.getTime()
    for (let i = 0; i < 5; i++) {
      now += 50 * 60_000
      const s = await authenticateSession(t.db, short.token, { now: new Date(now), policy })
      if (now < start.getTime() + policy.absoluteMs) expect(s).not.toBeNull()
      else expect(s).toBeNull()
    }
    const fresh = await login(t.db, {
      email: 'alice@example.com',
      password: 'correct horse',
    })
    await logout(t.db, fresh.token)
    expect(await authenticateSession(t.db, fresh.token)).toBeNull()
    expect(await authenticateSession(t.db, 'not-a-token')).toBeNull()
  })
})

describe('customer search', () => {
  it('finds by telegram id, @username prefix, first or last name, and pages by keyset', async () => {
    const projectId = await createProject(t.db, 'search')
    const other = await createProject(t.db, 'other')
    const people = [
      { telegramUserId: 101, username: 'alice_w', firstName: 'Alice', lastName: 'Wonder' },
      { telegramUserId: 102, username: 'alfred', firstName: 'Alfred', lastName: 'Hitch' },
      { telegramUserId: 103, username: 'bob', firstName: 'Bob', lastName: 'Alison' },
      { telegramUserId: 104, username: null, firstName: 'Zoë', lastName: null },
      { telegramUserId: 105, username: '100%_real', firstName: 'Percent', lastName: null },
    ]
    for (const p of people) await upsertCustomer(t.db, { projectId, ...p })
    await upsertCustomer(t.db, { projectId: other, telegramUserId: 106, username: 'alien' })
    const ids = async (query: string) =>
      (await searchCustomers(t.db, { projectId, query })).customers.map((c) => c.telegramUserId)
    expect(await ids('101')).toEqual([101])
    expect(await ids('@al')).toEqual([102, 101])
    expect(await ids('AL')).toEqual([103, 102, 101])
    expect(await ids('alice wo')).toEqual([101])
    expect(await ids('zoë')).toEqual([104])
    expect(await ids('100%')).toEqual([105])
    expect(await ids('10_')).toEqual([])
    expect(await ids('nobody')).toEqual([])
    const first = await searchCustomers(t.db, { projectId, limit: 2 })
    expect(first.customers.map((c) => c.telegramUserId)).toEqual([105, 104])
    const second = await searchCustomers(t.db, { projectId, limit: 2, cursor: first.nextCursor })
    expect(second.customers.map((c) => c.telegramUserId)).toEqual([103, 102])
    const third = await searchCustomers(t.db, { projectId, limit: 2, cursor: second.nextCursor })
    expect(third.customers.map((c) => c.telegramUserId)).toEqual([101])
    expect(third.nextCursor).toBeNull()
  })

  it('answers a username prefix search from its index', async () => {
    // A project with customers and fresh statistics: on an empty table the three search indexes
    // tie, and which one the planner picks then depends on nothing but the row's width.
    const projectId = await createProject(t.db)
    await t.db.execute(
      sql`insert into customers (project_id, telegram_user_id, username, first_name, last_name)
          select ${projectId}, g, md5(g::text), md5(g::text), md5(g::text) from generate_series(1, 200) g`,
    )
    await t.db.execute(sql`analyze customers`)
    const [forced] = await t.db.transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`)
      return rows<Record<string, unknown>>(
        tx,
        sql`explain (format json) select id from customers where project_id = ${projectId}
            and lower(username) like 'ali%'`,
      )
    })
    expect(JSON.stringify(forced)).toContain('customers_username_search')
  })
})

describe('customer detail and timeline', () => {
  it('tells every entry in plain words, newest first', async () => {
    const projectId = await createProject(t.db, 'timeline')
    await upsertCustomer(t.db, { projectId, telegramUserId: 7, username: 'carol' })
    const [payment] = await t.db
      .insert(payments)
      .values({
        projectId,
        telegramPaymentChargeId: 'stxCHARGE1',
        telegramUserId: 7,
        amountStars: 250,
        invoicePayload: 'p',
        status: 'paid',
        recordedVia: 'api',
        paidAt: new Date(),
        productKey: 'pack_m',
      })
      .returning({ id: payments.id })
    const [customer] = await rows<{ id: string }>(
      t.db,
      sql`select id from customers where project_id = ${projectId} and telegram_user_id = 7`,
    )
    await t.db.execute(
      sql`update payments set customer_id = ${customer!.id} where project_id = ${projectId}`,
    )
    const { grantCredits } = await import('../src/index.ts')
    await grantCredits(t.db, {
      projectId,
      telegramUserId: 7,
      amount: 500,
      reason: 'Pack M',
      source: 'payment',
      actor: 'system',
      idempotencyKey: key(),
      paymentId: payment!.id,
    })
    await consume(t.db, {
      projectId,
      telegramUserId: 7,
      amount: 120,
      reason: 'AI answer',
      actor: 'api-key:k',
      idempotencyKey: key(),
      metadata: { tokens: 12_000 },
    })
    await adjustCredits(t.db, {
      projectId,
      telegramUserId: 7,
      amount: -30,
      reason: 'duplicate answer',
      actor: 'operator:alice@example.com',
      idempotencyKey: key(),
    })
    const page = await listTimeline(t.db, { projectId, telegramUserId: 7 })
    expect(page.entries.map((e) => e.text)).toEqual([
      '\u221230 adjusted by alice: duplicate answer',
      '\u2212120 credits: AI answer, 12,000 tokens',
      '+500: Pack M, payment stxCHARGE1',
    ])
    expect(page.entries[0]).toMatchObject({
      availableAfter: 350,
      change: '\u221230',
      tone: 'debit',
    })
    const detail = await getCustomerDetail(t.db, { projectId, telegramUserId: 7 })
    expect(detail).toMatchObject({
      username: 'carol',
      available: 350,
      lifetimeStars: 250,
      paymentsCount: 1,
      payments: [{ chargeId: 'stxCHARGE1', amountStars: 250, status: 'paid' }],
    })
    await expect(getCustomerDetail(t.db, { projectId, telegramUserId: 8 })).rejects.toBeInstanceOf(
      NotFound,
    )
  })

  it('describes refunds, expiry, holds and debt repayment', () => {
    const base = { heldChange: 0, debtChange: 0, metadata: null, actor: 'system' }
    expect(
      describeEntry({
        ...base,
        kind: 'revoke',
        amount: -380,
        reason: 'customer asked',
        actor: 'operator:alice@example.com',
      }).text,
    ).toBe('\u2212380 revoked: refund by alice, customer asked')
    expect(
      describeEntry({
        ...base,
        kind: 'revoke',
        amount: -100,
        debtChange: 50,
        reason: 'refunded_payment',
        actor: 'telegram',
      }).text,
    ).toBe('\u2212100 revoked, 50 became debt: refund by Telegram, refunded_payment')
    expect(
      describeEntry({
        ...base,
        kind: 'expire',
        amount: -30,
        reason: 'Credits expired',
        lot: { source: 'promo', reason: 'Welcome' },
      }).text,
    ).toBe('\u221230 expired: lot "Welcome"')
    expect(
      describeEntry({ ...base, kind: 'hold', amount: -100, heldChange: 100, reason: 'AI answer' })
        .text,
    ).toBe('100 credits held: AI answer')
    expect(
      describeEntry({
        ...base,
        kind: 'settle',
        amount: 36,
        heldChange: -100,
        reason: 'AI answer',
        metadata: { charged: 64, tokens: 6400 },
      }).text,
    ).toBe('\u221264 credits: AI answer, 6,400 tokens (held 100, 36 returned)')
    expect(
      describeEntry({
        ...base,
        kind: 'grant',
        amount: 70,
        debtChange: -30,
        reason: 'Bonus',
        lot: { source: 'manual', reason: 'Bonus' },
        actor: 'operator:bob@x.io',
      }).text,
    ).toBe('+100: Bonus (granted by bob); 30 repaid debt')
    expect(formatCount(1234567)).toBe('1,234,567')
    expect(formatCount(-1000)).toBe('\u22121,000')
  })
})

describe('operator acts are audited in the same transaction', () => {
  it('grants and takes credits, never below zero, and replays by idempotency key', async () => {
    const projectId = await createProject(t.db, 'adjust')
    await fund(t.db, projectId, 9, 100)
    const grantKey = key()
    const grant = {
      projectId,
      telegramUserId: 9,
      amount: 50,
      reason: 'goodwill',
      actor: 'operator:alice@example.com',
      idempotencyKey: grantKey,
    }
    const granted = await adjustCredits(t.db, grant)
    expect(granted).toMatchObject({ amount: 50, available: 150 })
    expect(await adjustCredits(t.db, grant)).toEqual(granted)
    await expect(
      adjustCredits(t.db, { ...grant, idempotencyKey: key(), amount: -151 }),
    ).rejects.toBeInstanceOf(InsufficientCredits)
    await expect(
      adjustCredits(t.db, { ...grant, idempotencyKey: key(), telegramUserId: 404 }),
    ).rejects.toBeInstanceOf(NotFound)
    await expect(
      adjustCredits(t.db, { ...grant, idempotencyKey: key(), amount: 0 }),
    ).rejects.toBeInstanceOf(InvalidInput)
    const taken = await adjustCredits(t.db, { ...grant, idempotencyKey: key(), amount: -150 })
    expect(taken.available).toBe(0)
    const audit = await listAuditLog(t.db, { projectId })
    expect(audit.entries.map((e) => [e.action, e.target])).toEqual([
      ['credits.adjust', 'customer:9'],
      ['credits.grant', 'customer:9'],
    ])
    expect(audit.entries[0]!.before).toMatchObject({ available: 150 })
    expect(audit.entries[0]!.after).toMatchObject({ available: 0, amount: -150 })
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('creates an API key without ever writing it to the audit log, and revokes it', async () => {
    const projectId = await createProject(t.db, 'keys')
    const actor = 'operator:alice@example.com'
    const created = await createProjectApiKey(t.db, { projectId, name: 'prod', actor })
    const revoked = await revokeProjectApiKey(t.db, { projectId, keyId: created.id, actor })
    expect(revoked).toEqual({ id: created.id, revoked: true })
    const audit = await t.db.select().from(auditLog).where(eq(auditLog.projectId, projectId))
    expect(audit.map((a) => a.action).sort()).toEqual(['api_key.create', 'api_key.revoke'])
    expect(JSON.stringify(audit)).not.toContain(created.key)
    await expect(
      revokeProjectApiKey(t.db, { projectId, keyId: created.id, actor }),
    ).rejects.toBeInstanceOf(NotFound)
  })

  it('updates settings with before and after, and refuses an unknown time zone', async () => {
    const projectId = await createProject(t.db, 'settings')
    const actor = 'operator:alice@example.com'
    const after = await updateProjectSettings(t.db, {
      projectId,
      actor,
      timeZone: 'Europe/Berlin',
      lowBalanceThreshold: 20,
    })
    expect(after).toMatchObject({
      timeZone: 'Europe/Berlin',
      lowBalanceThreshold: 20,
      botTokenSet: false,
    })
    await expect(
      updateProjectSettings(t.db, { projectId, actor, timeZone: 'Mars/Olympus' }),
    ).rejects.toBeInstanceOf(InvalidInput)
    expect((await getProjectSettings(t.db, projectId)).timeZone).toBe('Europe/Berlin')
    const [entry] = (await listAuditLog(t.db, { projectId, action: 'settings.' })).entries
    expect(entry).toMatchObject({
      before: { timeZone: 'UTC', lowBalanceThreshold: 0 },
      after: { timeZone: 'Europe/Berlin', lowBalanceThreshold: 20 },
    })
  })
})

describe('overview metrics', () => {
  it('sums Stars, refunds, credits sold and consumed per day in the project time zone', async () => {
    const projectId = await createProject(t.db, 'metrics')
    await updateProjectSettings(t.db, { projectId, actor: 'test', timeZone: 'Asia/Tokyo' })
    const day1 = new Date('2032-03-01T20:00:00Z') // 05:00 on the 2nd in Tokyo
    await upsertCustomer(t.db, { projectId, telegramUserId: 1, username: 'heavy' })
    await upsertCustomer(t.db, { projectId, telegramUserId: 2, username: 'light' })
    const [c1] = await rows<{ id: string }>(
      t.db,
      sql`select id from customers where project_id = ${projectId} and telegram_user_id = 1`,
    )
    await t.db.insert(payments).values([
      {
        projectId,
        telegramPaymentChargeId: 'a',
        telegramUserId: 1,
        customerId: Number(c1!.id),
        amountStars: 100,
        invoicePayload: 'p',
        status: 'paid',
        recordedVia: 'api',
        paidAt: day1,
      },
      {
        projectId,
        telegramPaymentChargeId: 'b',
        telegramUserId: 1,
        customerId: Number(c1!.id),
        amountStars: 40,
        invoicePayload: 'p',
        status: 'refunded',
        recordedVia: 'api',
        paidAt: day1,
        refundedAt: new Date('2032-03-03T01:00:00Z'),
      },
    ])
    const grant = (telegramUserId: number, amount: number, source: 'payment' | 'promo') =>
      import('../src/index.ts').then(({ grantCredits }) =>
        grantCredits(t.db, {
          projectId,
          telegramUserId,
          amount,
          reason: 'x',
          source,
          actor: 'system',
          idempotencyKey: key(),
          now: day1,
        }),
      )
    await grant(1, 1000, 'payment')
    await grant(2, 50, 'promo')
    await t.db.execute(
      sql`update grants set created_at = ${day1.toISOString()}::timestamptz where project_id = ${projectId}`,
    )
    for (const [who, amount] of [
      [1, 300],
      [2, 20],
      [1, 5],
    ] as const) {
      await consume(t.db, {
        projectId,
        telegramUserId: who,
        amount,
        reason: 'use',
        actor: 'test',
        idempotencyKey: key(),
      })
    }
    // Moving entries in time rewrites the append-only ledger: only through the documented escape.
    await t.db.transaction(async (tx) => {
      await tx.execute(
        sql`select set_config('e_stars.ledger_rewrite', 'test: move entries in time', true)`,
      )
      await tx.execute(
        sql`update ledger_entries set created_at = '2032-03-02T03:00:00Z' where project_id = ${projectId}`,
      )
    })
    const overview = await getOverview(t.db, {
      projectId,
      from: new Date('2032-03-01T15:00:00Z'),
      to: new Date('2032-03-04T15:00:00Z'),
    })
    expect(overview).toMatchObject({
      timeZone: 'Asia/Tokyo',
      starsEarned: 140,
      starsRefunded: 40,
      starsNet: 100,
      payingCustomers: 1,
      creditsSold: 1000,
      creditsGranted: 50,
      creditsConsumed: 325,
    })
    expect(overview.topConsumers.map((c) => [c.username, c.consumed])).toEqual([
      ['heavy', 305],
      ['light', 20],
    ])
    expect(overview.days).toEqual([
      {
        day: '2032-03-02',
        starsEarned: 140,
        starsRefunded: 0,
        creditsSold: 1000,
        creditsConsumed: 325,
      },
      { day: '2032-03-03', starsEarned: 0, starsRefunded: 40, creditsSold: 0, creditsConsumed: 0 },
      { day: '2032-03-04', starsEarned: 0, starsRefunded: 0, creditsSold: 0, creditsConsumed: 0 },
    ])
    await expect(getOverview(t.db, { projectId, from: day1, to: day1 })).rejects.toBeInstanceOf(
      InvalidInput,
    )
  })
})
