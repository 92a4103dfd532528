import { payments } from '@e-stars/db'
import { describe, expect, it } from 'vitest'
import { exportPaymentsCsv, searchPayments, upsertCustomer } from '../src/index.ts'
import { createProject, useDatabase } from './fixtures.ts'

const t = useDatabase()

async function seed() {
  const projectId = await createProject(t.db, 'payments console')
  const other = await createProject(t.db, 'other')
  await upsertCustomer(t.db, { projectId, telegramUserId: 1, username: 'ann' })
  const row = (n: number, extra: Partial<typeof payments.$inferInsert> = {}) => ({
    projectId,
    telegramPaymentChargeId: `ch${n}`,
    telegramUserId: 1,
    amountStars: 10 * n,
    invoicePayload: 'p',
    status: 'paid',
    recordedVia: 'api',
    paidAt: new Date(`2031-05-0${n}T12:00:00Z`),
    productKey: n % 2 ? 'pack_s' : 'pack_m',
    ...extra,
  })
  await t.db.insert(payments).values([
    row(1),
    row(2, {
      status: 'refunded',
      refundReason: '=HYPERLINK("x"), "quoted"',
      refundedBy: 'operator:a@b.c',
    }),
    row(3),
    row(4, { status: 'unmatched', productKey: null }),
    { ...row(5), projectId: other },
  ])
  return projectId
}

describe('the console payments list', () => {
  it('filters by status, product and paid date, newest first, and pages by keyset', async () => {
    const projectId = await seed()
    const charges = async (filters: Parameters<typeof searchPayments>[1]) =>
      (await searchPayments(t.db, filters)).payments.map((p) => p.chargeId)
    expect(await charges({ projectId })).toEqual(['ch4', 'ch3', 'ch2', 'ch1'])
    expect(await charges({ projectId, status: 'paid' })).toEqual(['ch3', 'ch1'])
    expect(await charges({ projectId, productKey: 'pack_m' })).toEqual(['ch2'])
    expect(
      await charges({
        projectId,
        from: new Date('2031-05-02T00:00:00Z'),
        to: new Date('2031-05-04T00:00:00Z'),
      }),
    ).toEqual(['ch3', 'ch2'])
    const first = await searchPayments(t.db, { projectId, limit: 3 })
    expect(first.payments.map((p) => p.username)).toEqual([null, null, null])
    const rest = await searchPayments(t.db, { projectId, limit: 3, cursor: first.nextCursor })
    expect(rest.payments.map((p) => p.chargeId)).toEqual(['ch1'])
    // The live feed asks for what is newer than the newest it shows.
    const newest = first.payments[0]!.id
    expect(await charges({ projectId, after: first.payments[2]!.id })).toEqual(['ch4', 'ch3'])
    expect(await charges({ projectId, after: newest })).toEqual([])
  })

  it('exports CSV with quoting and spreadsheet formulas defused', async () => {
    const projectId = await seed()
    const { csv, rows } = await exportPaymentsCsv(t.db, { projectId, status: 'refunded' })
    expect(rows).toBe(1)
    const [header, line] = csv.trimEnd().split('\r\n')
    expect(header).toBe(
      'paid_at,charge_id,telegram_user_id,username,product,stars,status,flag,recorded_via,refunded_at,refunded_by,refund_reason',
    )
    expect(line).toBe(
      `2031-05-02T12:00:00.000Z,ch2,1,,pack_m,20,refunded,,api,,operator:a@b.c,"'=HYPERLINK(""x""), ""quoted"""`,
    )
  })
})
