import { customers, rows } from '@e-stars/db'
import { and, eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  getCustomerRefundStats,
  getRefundAbusePolicy,
  InvalidInput,
  listCustomersByRefundRate,
  NotFound,
  PRECHECK_MESSAGES,
  recordPayment,
  refundPayment,
  setRefundAbusePolicy,
} from '../src/index.ts'
import { useDatabase } from './fixtures.ts'
import {
  ALICE,
  BOB,
  buy,
  secrets,
  shopProject,
  startTestBot,
  useSandbox,
} from './payments-fixtures.ts'

const t = useDatabase()
const s = useSandbox()
const env = () => ({ sandbox: s.sandbox, api: s.api, db: t.db })
let projectId: string
let bot: ReturnType<typeof startTestBot>

beforeAll(async () => {
  projectId = await shopProject(t.db)
  bot = startTestBot(s.api, t.db, projectId)
}, 60_000)
afterAll(() => bot?.stop())

/** A real purchase through the sandbox: invoice, pre-checkout (the engine's), payment, record. */
async function purchase(userId: number) {
  const { paid } = await buy(env(), projectId, userId, 'pack_s')
  if (paid.status !== 'paid') return paid
  const delivered = await bot.payment(paid.chargeId)
  await recordPayment(t.db, { projectId, secrets, via: 'api', ...delivered })
  return paid
}

async function buyAndRefund(userId: number) {
  const paid = await purchase(userId)
  if (paid.status !== 'paid') throw new Error(`payment ${paid.status}`)
  await refundPayment(t.db, {
    projectId,
    telegramPaymentChargeId: paid.chargeId,
    by: 'operator:test',
    reason: 'customer asked',
    botApi: s.api,
  })
}

const blockedAt = async (telegramUserId: number) => {
  const [row] = await t.db
    .select({ blockedAt: customers.blockedAt })
    .from(customers)
    .where(and(eq(customers.projectId, projectId), eq(customers.telegramUserId, telegramUserId)))
  return row?.blockedAt ?? null
}

describe('refund abuse at pre-checkout', () => {
  it('is off by default: a customer with refunds still buys', async () => {
    expect(await getRefundAbusePolicy(t.db, projectId)).toEqual({
      limit: null,
      windowDays: 30,
      action: 'refuse',
    })
    await buyAndRefund(ALICE)
    await buyAndRefund(ALICE)
    expect((await purchase(ALICE)).status).toBe('paid')
  }, 60_000)

  it('refuses the purchase with the plain message once the limit is reached (refuse)', async () => {
    await setRefundAbusePolicy(t.db, { projectId, actor: 'operator:test', limit: 2, windowDays: 7 })
    const refused = await purchase(ALICE)
    expect(refused).toEqual({ status: 'rejected', errorMessage: PRECHECK_MESSAGES.refund_limit })
    // `refuse` does not block: Alice keeps what she holds.
    expect(await blockedAt(ALICE)).toBeNull()
    // Bob has one refund, under the limit: his purchase goes through.
    await buyAndRefund(BOB)
    expect((await purchase(BOB)).status).toBe('paid')
    // A window that no longer covers the refunds lets Alice buy again.
    await t.db.execute(
      sql`update payments set refunded_at = refunded_at - interval '8 days' where project_id = ${projectId}`,
    )
    expect((await purchase(ALICE)).status).toBe('paid')
    await t.db.execute(
      sql`update payments set refunded_at = refunded_at + interval '8 days' where project_id = ${projectId}`,
    )
  }, 90_000)

  it('blocks the customer and refuses (block)', async () => {
    await setRefundAbusePolicy(t.db, { projectId, actor: 'operator:test', action: 'block' })
    const refused = await purchase(ALICE)
    expect(refused).toEqual({ status: 'rejected', errorMessage: PRECHECK_MESSAGES.blocked })
    expect(await blockedAt(ALICE)).not.toBeNull()
    expect(await blockedAt(BOB)).toBeNull()
    const audit = await rows<{ n: string }>(
      t.db,
      sql`select count(*) n from audit_log where project_id = ${projectId} and action = 'settings.refund_abuse'`,
    )
    expect(Number(audit[0]!.n)).toBe(2)
  }, 60_000)

  it('lists customers by refund rate and gives the customer page its figures', async () => {
    const list = await listCustomersByRefundRate(t.db, { projectId, limit: 10 })
    expect(list.map((c) => [c.telegramUserId, c.refunds, c.payments])).toEqual([
      [ALICE, 2, 4],
      [BOB, 1, 2],
    ])
    expect(list.map((c) => c.refundRate)).toEqual([0.5, 0.5])
    const alice = await getCustomerRefundStats(t.db, { projectId, telegramUserId: ALICE })
    expect(alice).toMatchObject({ refunds: 2, payments: 4, refundRate: 0.5, blocked: true })
    expect(alice.starsRefunded).toBe(100)
    expect(alice.starsPaid).toBe(200)
    const other = await shopProject(t.db, 'other')
    expect(await listCustomersByRefundRate(t.db, { projectId: other, limit: 10 })).toEqual([])
    await expect(
      getCustomerRefundStats(t.db, { projectId: other, telegramUserId: ALICE }),
    ).rejects.toBeInstanceOf(NotFound)
  })

  it('refuses a bad policy naming the field, writing nothing', async () => {
    const before = await getRefundAbusePolicy(t.db, projectId)
    for (const [patch, field] of [
      [{ limit: 0 }, 'refundAbuseLimit'],
      [{ limit: -1 }, 'refundAbuseLimit'],
      [{ limit: 1.5 }, 'refundAbuseLimit'],
      [{ windowDays: 0 }, 'refundAbuseWindowDays'],
      [{ windowDays: 366 }, 'refundAbuseWindowDays'],
      [{ limit: 3, action: 'ban' }, 'refundAbuseAction'],
    ] as const) {
      const error = await setRefundAbusePolicy(t.db, {
        projectId,
        actor: 'operator:test',
        ...(patch as object),
      }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(InvalidInput)
      expect((error as InvalidInput).field).toBe(field)
    }
    expect(await getRefundAbusePolicy(t.db, projectId)).toEqual(before)
    // null turns it off.
    expect(
      await setRefundAbusePolicy(t.db, { projectId, actor: 'operator:test', limit: null }),
    ).toMatchObject({ limit: null })
  })
})
