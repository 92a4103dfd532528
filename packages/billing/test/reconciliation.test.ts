import { rows } from '@e-stars/db'
import type { PaymentResult } from '@e-stars/sandbox'
import { createBotApi } from '@e-stars/telegram'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createInvoice,
  getBalance,
  getPayment,
  listReconciliationFindings,
  listReconciliationRuns,
  reconcile,
  recordPayment,
  resolveFinding,
} from '../src/index.ts'
import { key, ledgerMismatches, onPostgres, useDatabase } from './fixtures.ts'
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
let projectId: string
let bot: ReturnType<typeof startTestBot>
let dropNextPayment = false
let approveAll = false

beforeAll(async () => {
  projectId = await shopProject(t.db)
  bot = startTestBot(s.api, t.db, projectId, {
    // Lose the successful_payment that follows this pre-checkout, as a lost webhook would.
    beforeAnswer: () => {
      if (dropNextPayment) s.sandbox.dropNextDelivery(1)
      dropNextPayment = false
    },
    approveAll: () => approveAll,
  })
})
afterAll(() => bot?.stop())

const run = () => reconcile(t.db, { projectId, botApi: s.api, secrets, trigger: 'test' })
const paidCharge = (paid: PaymentResult) => {
  if (paid.status !== 'paid') throw new Error(`payment ${paid.status}`)
  return paid.chargeId
}

async function snapshot() {
  const [counts] = await rows<{
    payments: string
    entries: string
    grants: string
    available: string
  }>(
    t.db,
    sql`select (select count(*) from payments where project_id = ${projectId}) payments,
          (select count(*) from ledger_entries where project_id = ${projectId}) entries,
          (select count(*) from grants where project_id = ${projectId}) grants,
          (select coalesce(sum(available), 0) from customers where project_id = ${projectId}) available`,
  )
  return counts
}

describe('reconciliation against the sandbox ledger', () => {
  it('finds a dropped payment and records and credits it', async () => {
    dropNextPayment = true
    const { paid } = await buy({ ...s, db: t.db }, projectId, ALICE, 'pack_s')
    const chargeId = paidCharge(paid)
    await new Promise((r) => setTimeout(r, 200))
    expect(bot.successful.some((p) => p.payment.telegram_payment_charge_id === chargeId)).toBe(
      false,
    )
    expect(s.sandbox.droppedUpdates().length).toBeGreaterThan(0)

    const result = await run()
    expect(result.status).toBe('succeeded')
    if (result.status !== 'succeeded') return
    expect(result.findings).toEqual([
      expect.objectContaining({
        kind: 'missing_payment',
        action: 'recorded',
        telegramPaymentChargeId: chargeId,
        details: expect.objectContaining({ credits: 500, productKey: 'pack_s' }),
      }),
    ])
    expect(await getPayment(t.db, { projectId, telegramPaymentChargeId: chargeId })).toMatchObject({
      status: 'paid',
      recordedVia: 'reconciliation',
    })
    expect((await getBalance(t.db, { projectId, telegramUserId: ALICE })).available).toBe(500)
    // The finding is an outbox event of the run's transaction (webhooks: reconciliation.finding).
    const events = await rows<{ payload: { findingId: string; kind: string } }>(
      t.db,
      sql`select payload from events where project_id = ${projectId} and type = 'reconciliation.finding'`,
    )
    expect(events.map((e) => e.payload)).toEqual([
      expect.objectContaining({
        findingId: result.findings[0]!.id,
        kind: 'missing_payment',
        action: 'recorded',
        telegramPaymentChargeId: chargeId,
      }),
    ])
  })

  it('finds a silent chargeback and revokes what it bought', async () => {
    const { paid } = await buy({ ...s, db: t.db }, projectId, BOB, 'pack_m')
    const chargeId = paidCharge(paid)
    await recordPayment(t.db, { projectId, secrets, via: 'api', ...(await bot.payment(chargeId)) })
    expect((await getBalance(t.db, { projectId, telegramUserId: BOB })).available).toBe(1200)
    s.sandbox.chargeback(chargeId)
    const result = await run()
    if (result.status !== 'succeeded') throw new Error(result.status)
    expect(result.findings).toEqual([
      expect.objectContaining({
        kind: 'missing_refund',
        action: 'applied',
        telegramPaymentChargeId: chargeId,
        details: expect.objectContaining({ voided: 1200 }),
      }),
    ])
    expect(await getPayment(t.db, { projectId, telegramPaymentChargeId: chargeId })).toMatchObject({
      status: 'refunded',
      refundedBy: 'reconciliation',
    })
    expect((await getBalance(t.db, { projectId, telegramUserId: BOB })).available).toBe(0)
  })

  it('stores a charge with a foreign payload as unmatched and flags it', async () => {
    approveAll = true
    const link = await s.api.createInvoiceLink({
      title: 'Old offer',
      description: 'from before e-Stars',
      payload: 'legacy:offer:7',
      currency: 'XTR',
      prices: [{ label: 'Old offer', amount: 7 }],
    })
    dropNextPayment = true
    const chargeId = paidCharge(await s.sandbox.payInvoice(ALICE, { invoiceLink: link }))
    approveAll = false
    const result = await run()
    if (result.status !== 'succeeded') throw new Error(result.status)
    expect(result.findings).toEqual([
      expect.objectContaining({
        kind: 'missing_payment',
        action: 'flagged',
        telegramPaymentChargeId: chargeId,
        details: expect.objectContaining({ status: 'unmatched', flag: 'no_order', credits: 0 }),
      }),
    ])
  })

  it('flags a local payment Telegram does not have, once', async () => {
    const chargeId = `stx-not-at-telegram-${key()}`
    const invoice = await createInvoice(t.db, {
      projectId,
      telegramUserId: ALICE,
      productKey: 'pack_s',
      secrets,
    })
    await recordPayment(t.db, {
      projectId,
      secrets,
      via: 'api',
      now: new Date(Date.now() - 60_000),
      from: { id: ALICE, first_name: 'Alice' },
      payment: {
        currency: 'XTR',
        total_amount: 50,
        invoice_payload: invoice.payload,
        telegram_payment_charge_id: chargeId,
      },
    })
    await t.db.execute(
      sql`update payments set created_at = now() - interval '1 minute' where telegram_payment_charge_id = ${chargeId}`,
    )
    const first = await run()
    if (first.status !== 'succeeded') throw new Error(first.status)
    expect(first.findings).toEqual([
      expect.objectContaining({
        kind: 'unknown_at_telegram',
        action: 'flagged',
        telegramPaymentChargeId: chargeId,
      }),
    ])
    expect((await getPayment(t.db, { projectId, telegramPaymentChargeId: chargeId })).flag).toBe(
      'missing_at_telegram',
    )
    const finding = first.findings[0]!
    const resolved = await resolveFinding(t.db, {
      projectId,
      findingId: finding.id,
      by: 'operator:op',
      resolution: 'test data',
    })
    expect(resolved).toMatchObject({ resolvedBy: 'operator:op', resolution: 'test data' })
    const again = await resolveFinding(t.db, {
      projectId,
      findingId: finding.id,
      by: 'operator:other',
      resolution: 'x',
    })
    expect(again.resolvedBy).toBe('operator:op')
  })

  it('is idempotent: a second run changes nothing', async () => {
    const before = await snapshot()
    const unresolved = await listReconciliationFindings(t.db, { projectId, unresolved: true })
    const result = await run()
    if (result.status !== 'succeeded') throw new Error(result.status)
    expect(result.findings).toEqual([])
    expect(await snapshot()).toEqual(before)
    expect(await listReconciliationFindings(t.db, { projectId, unresolved: true })).toEqual(
      unresolved,
    )
    const third = await run()
    if (third.status !== 'succeeded') throw new Error(third.status)
    expect(third.findings).toEqual([])
    expect(await snapshot()).toEqual(before)
    expect(await ledgerMismatches(t.db)).toEqual([])
    const runs = await listReconciliationRuns(t.db, { projectId })
    expect(runs[0]).toMatchObject({ status: 'succeeded', trigger: 'test' })
  })

  it('a Telegram failure is stored as a failed run and reported', async () => {
    const wrong = createBotApi({ token: '999:nope', apiRoot: s.sandbox.apiRoot, retry: false })
    await expect(
      reconcile(t.db, { projectId, botApi: wrong, secrets, trigger: 'test' }),
    ).rejects.toMatchObject({ code: 'TELEGRAM_CALL_FAILED' })
    const [last] = await listReconciliationRuns(t.db, { projectId, limit: 1 })
    expect(last).toMatchObject({ status: 'failed' })
    expect(last!.error).not.toContain('999:nope')
  })
})

describe.skipIf(!onPostgres)('one run at a time on PostgreSQL', () => {
  it('a run while another is still running (a live run row) is skipped; one whose process died is not', async () => {
    const [running] = await rows<{ id: string }>(
      t.db,
      sql`insert into reconciliation_runs (project_id, trigger, started_at) values (${projectId}, 'test', now())
          returning id`,
    )
    expect(await run()).toEqual({ status: 'skipped', reason: 'another run in progress' })
    await t.db.execute(
      sql`update reconciliation_runs set started_at = now() - interval '11 minutes' where id = ${running!.id}`,
    )
    expect((await run()).status).toBe('succeeded')
  })

  it('a run while another holds the project lock is skipped', async () => {
    let release!: () => void
    const held = new Promise<void>((r) => {
      release = r
    })
    let locked!: () => void
    const isLocked = new Promise<void>((r) => {
      locked = r
    })
    const holder = t.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(727211100, hashtext(${projectId}))`)
      locked()
      await held
    })
    await isLocked
    expect(await run()).toEqual({ status: 'skipped', reason: 'another run in progress' })
    release()
    await holder
    expect((await run()).status).toBe('succeeded')
  })
})
if (!onPostgres)
  console.warn('reconciliation.test: the one-run-at-a-time case needs TEST_DATABASE_URL')
