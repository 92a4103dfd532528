import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSandbox, type Sandbox, type StarTransaction, type Update } from '../src/index.ts'
import { callApi } from './helpers.ts'

const ALICE = 2_000_001
const AFFILIATE = 2_000_005
const NANO = 1_000_000_000

describe("the bot's Stars treasury through the HTTP API: affiliates, nanostars, withdrawals, spend", () => {
  let sandbox: Sandbox
  let token: string
  let dir: string
  const journal = () => join(dir, 'stars.json')
  const api = (method: string, params: Record<string, unknown> = {}) =>
    callApi(sandbox.apiRoot, token, method, params)
  async function control<T>(
    path: string,
    body: unknown,
  ): Promise<{ status: number; result: T; error?: { code: string; message: string } }> {
    const res = await sandbox.fetchControl(path, { body })
    const json = (await res.json()) as { result: T; error?: { code: string; message: string } }
    return { status: res.status, ...json }
  }
  const balance = async () => (await api('getMyStarBalance')).result
  const ledger = async () =>
    ((await api('getStarTransactions')).result as { transactions: StarTransaction[] }).transactions

  /** Alice pays a 333-Star invoice referred by AFFILIATE at `perMille`. */
  async function referredPayment(perMille: number): Promise<string> {
    const link = (
      await api('createInvoiceLink', {
        title: 'Pack',
        description: 'Pack',
        payload: 'pack-1',
        currency: 'XTR',
        prices: [{ label: 'Pack', amount: 333 }],
      })
    ).result as string
    const paying = control<{ status: string; chargeId: string }>('payments', {
      userId: ALICE,
      invoiceLink: link,
      affiliate: { userId: AFFILIATE, commissionPerMille: perMille },
    })
    let queryId: string | undefined
    while (!queryId) {
      const updates = (await api('getUpdates')).result as Update[]
      queryId = updates.find((u) => u.pre_checkout_query)?.pre_checkout_query?.id
      await api('getUpdates', { offset: (updates.at(-1)?.update_id ?? -1) + 1 })
    }
    await api('answerPreCheckoutQuery', { pre_checkout_query_id: queryId, ok: true })
    return (await paying).result.chargeId
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sandbox-treasury-'))
    sandbox = await createSandbox({
      users: [
        { id: ALICE, firstName: 'Alice' },
        { id: AFFILIATE, firstName: 'Affiliate' },
      ],
      starsJournal: journal(),
    })
    token = sandbox.bot().token
  })
  afterAll(async () => {
    await sandbox.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('an affiliate-referred payment carries AffiliateInfo exact to the nanostar; the balance is the net; a refund takes the commission back', async () => {
    const chargeId = await referredPayment(123) // 333 × 12.3% = 40.959 Stars
    const row = (await ledger()).find((t) => t.id === chargeId && t.source)
    expect(row).toMatchObject({
      amount: 333,
      source: {
        type: 'user',
        transaction_type: 'invoice_payment',
        affiliate: {
          affiliate_user: expect.objectContaining({ id: AFFILIATE }),
          commission_per_mille: 123,
          amount: 40,
          nanostar_amount: 959_000_000,
        },
      },
    })
    // 333 − 40.959 = 292.041 Stars
    expect(await balance()).toEqual({ amount: 292, nanostar_amount: 41_000_000 })

    await api('refundStarPayment', { user_id: ALICE, telegram_payment_charge_id: chargeId })
    const refund = (await ledger()).find((t) => t.id === chargeId && t.receiver)
    expect(refund?.receiver).toMatchObject({
      affiliate: { amount: -40, nanostar_amount: -959_000_000 },
    })
    expect(await balance()).toEqual({ amount: 0 })
  })

  it('affiliate program earnings, Fragment withdrawals (pending → succeeded / failed), ads, API and gift spend', async () => {
    await referredPayment(100) // +299.7 net
    const earned = await control<StarTransaction>('affiliate-earnings', {
      amount: 2,
      nanostarAmount: 300_000_000,
      commissionPerMille: 200,
      sponsorUserId: AFFILIATE,
    })
    expect(earned.result).toMatchObject({
      amount: 2,
      nanostar_amount: 300_000_000,
      source: {
        type: 'affiliate_program',
        commission_per_mille: 200,
        sponsor_user: { id: AFFILIATE },
      },
    })
    expect(await balance()).toEqual({ amount: 302 }) // 299.7 + 2.3

    const pending = await control<StarTransaction>('withdrawals', { amount: 100 })
    expect(pending.result).toMatchObject({
      amount: 100,
      receiver: { type: 'fragment', withdrawal_state: { type: 'pending' } },
    })
    expect(await balance()).toEqual({ amount: 202 })
    const done = await control<StarTransaction>('withdrawals/settle', {
      transactionId: pending.result.id,
      state: 'succeeded',
    })
    expect(done.result.receiver).toMatchObject({
      withdrawal_state: {
        type: 'succeeded',
        date: expect.any(Number),
        url: expect.stringMatching(/^https:\/\//),
      },
    })
    expect(
      (await control('withdrawals/settle', { transactionId: pending.result.id, state: 'failed' }))
        .status,
    ).toBe(409)

    const failing = await control<StarTransaction>('withdrawals', { amount: 50 })
    expect(await balance()).toEqual({ amount: 152 })
    await control('withdrawals/settle', { transactionId: failing.result.id, state: 'failed' })
    expect(await balance()).toEqual({ amount: 202 }) // a failed withdrawal gives the Stars back

    const ads = await control<StarTransaction>('ad-spend', { amount: 10 })
    expect(ads.result.receiver).toEqual({ type: 'telegram_ads' })
    const apiSpend = await control<StarTransaction>('api-spend', {
      requestCount: 1500,
      amount: 0,
      nanostarAmount: 100_000_000,
    })
    expect(apiSpend.result).toMatchObject({
      amount: 0,
      nanostar_amount: 100_000_000,
      receiver: { type: 'telegram_api', request_count: 1500 },
    })
    const gift = await control<StarTransaction>('gift-spend', {
      userId: ALICE,
      kind: 'gift',
      amount: 15,
    })
    expect(gift.result.receiver).toMatchObject({
      type: 'user',
      transaction_type: 'gift_purchase',
      user: { id: ALICE },
    })
    // 202 − 10 − 0.1 − 15 − 1000 would go below zero: that Premium gift is refused.
    const tooDear = await control('gift-spend', {
      userId: ALICE,
      kind: 'premium',
      amount: 1000,
      premiumMonths: 3,
    })
    expect(tooDear).toMatchObject({
      status: 409,
      error: { code: 'CONFLICT', message: 'BALANCE_TOO_LOW' },
    })
    const premium = await control<StarTransaction>('gift-spend', {
      userId: ALICE,
      kind: 'premium',
      amount: 100,
      premiumMonths: 6,
    })
    expect(premium.result.receiver).toMatchObject({
      transaction_type: 'premium_purchase',
      premium_subscription_duration: 6,
    })
    expect(await balance()).toEqual({ amount: 76, nanostar_amount: 900_000_000 })
    const controlBalance = await control<unknown>('balance', undefined)
    expect(controlBalance.result).toEqual({ amount: 76, nanostar_amount: 900_000_000 })

    // Every partner survives a restart through the Stars journal, with the same balance.
    const rows = await ledger()
    await sandbox.close()
    sandbox = await createSandbox({
      users: [{ id: ALICE }, { id: AFFILIATE }],
      starsJournal: journal(),
    })
    token = sandbox.bot().token
    expect(await ledger()).toEqual(rows)
    expect(await balance()).toEqual({ amount: 76, nanostar_amount: 900_000_000 })
    const sum = rows.reduce(
      (n, r) => n + (r.source ? 1 : -1) * (r.amount * NANO + (r.nanostar_amount ?? 0)),
      0,
    )
    expect(sum).not.toBe(76 * NANO + 900_000_000) // gross ≠ net: commissions and the failed withdrawal
  })

  it('bad input: unknown withdrawal, non-positive amounts, a per-mille out of range, an unknown affiliate', async () => {
    expect(
      (await control('withdrawals/settle', { transactionId: 'nope', state: 'succeeded' })).status,
    ).toBe(404)
    expect((await control('withdrawals', { amount: 0 })).status).toBe(400)
    expect((await control('withdrawals', { amount: 1_000_000 })).error?.message).toBe(
      'BALANCE_TOO_LOW',
    )
    expect((await control('ad-spend', { amount: 0 })).status).toBe(400)
    expect((await control('api-spend', { amount: 1, nanostarAmount: NANO })).status).toBe(400)
    expect(
      (await control('affiliate-earnings', { amount: 1, commissionPerMille: 1000 })).status,
    ).toBe(400)
    const link = (
      await api('createInvoiceLink', {
        title: 'P',
        description: 'P',
        payload: 'p',
        currency: 'XTR',
        prices: [{ label: 'P', amount: 1 }],
      })
    ).result as string
    expect(
      (
        await control('payments', {
          userId: ALICE,
          invoiceLink: link,
          affiliate: { userId: 2_999_999, commissionPerMille: 10 },
        })
      ).status,
    ).toBe(404)
  })
})
