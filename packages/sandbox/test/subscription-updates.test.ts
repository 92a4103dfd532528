import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSandbox, type Sandbox, type Update } from '../src/index.ts'
import { callApi } from './helpers.ts'

const ALICE = 2_000_001
const MONTH = 2_592_000

describe('Update.subscription (Bot API 10.2) through the HTTP API', () => {
  let sandbox: Sandbox
  let token: string
  const api = (method: string, params: Record<string, unknown> = {}) =>
    callApi(sandbox.apiRoot, token, method, params)
  const control = async (path: string, body: unknown) => {
    const res = await sandbox.fetchControl(path, { body })
    return {
      status: res.status,
      ...((await res.json()) as {
        ok: boolean
        result?: { subscription: Record<string, unknown> }
        error?: { code: string; message: string }
      }),
    }
  }
  let offset = 0
  /** Every update since the last call, confirming them (as a polling bot does). */
  async function poll(allowed?: string[]): Promise<Update[]> {
    const reply = await api('getUpdates', {
      offset,
      ...(allowed ? { allowed_updates: allowed } : {}),
    })
    const updates = reply.result as Update[]
    if (updates.length > 0) offset = (updates.at(-1)?.update_id ?? 0) + 1
    return updates
  }

  /** A paid subscription: link, pre-checkout answered through the Bot API, charge id. */
  async function subscribe(payload = 'sub-1'): Promise<string> {
    const link = (
      await api('createInvoiceLink', {
        title: 'Pro',
        description: 'Pro monthly',
        payload,
        currency: 'XTR',
        prices: [{ label: 'Pro', amount: 100 }],
        subscription_period: MONTH,
      })
    ).result as string
    const paying = sandbox.payInvoice(ALICE, { invoiceLink: link })
    let queryId: string | undefined
    while (!queryId)
      queryId = (await poll()).find((u) => u.pre_checkout_query)?.pre_checkout_query?.id
    await api('answerPreCheckoutQuery', { pre_checkout_query_id: queryId, ok: true })
    const paid = await paying
    if (paid.status !== 'paid') throw new Error(paid.status)
    await poll()
    return paid.chargeId
  }

  beforeEach(async () => {
    sandbox = await createSandbox({
      users: [{ id: ALICE, firstName: 'Alice' }],
      clock: { frozen: true },
    })
    token = sandbox.bot().token
    offset = 0
  })
  afterEach(() => sandbox.close())

  it('cancel, re-enable and a failed renewal each reach the bot as Update.subscription, and renewals follow', async () => {
    await poll(['message', 'pre_checkout_query', 'subscription'])
    const chargeId = await subscribe()

    const canceled = await control('subscriptions/cancel', { chargeId })
    expect(canceled).toMatchObject({
      ok: true,
      result: { subscription: { canceled: true, state: 'canceled' } },
    })
    expect((await poll()).map((u) => u.subscription)).toEqual([
      { user: expect.objectContaining({ id: ALICE }), invoice_payload: 'sub-1', state: 'canceled' },
    ])
    expect(sandbox.renewSubscription(chargeId)).toEqual({
      status: 'canceled',
      subscriptionId: chargeId,
    })

    await control('subscriptions/reenable', { chargeId })
    expect((await poll()).map((u) => u.subscription?.state)).toEqual(['active'])
    const renewed = sandbox.renewSubscription(chargeId)
    expect(renewed.status).toBe('renewed')
    expect((await poll()).map((u) => u.message?.successful_payment?.is_recurring)).toEqual([true])

    const failed = await control('subscriptions/fail-renewal', { chargeId })
    expect(failed.result?.subscription).toMatchObject({ state: 'failed', renewalFailed: true })
    expect((await poll()).map((u) => u.subscription?.state)).toEqual(['failed'])
    expect(sandbox.renewSubscription(chargeId)).toEqual({
      status: 'failed',
      subscriptionId: chargeId,
    })
    // No charge for the failed renewal: the first payment and one renewal only.
    expect(sandbox.starTransactions().filter((t) => t.source)).toHaveLength(2)
  })

  it('is not delivered unless allowed_updates names it (the stricter reading of the default)', async () => {
    await poll([]) // [] = the default set
    const chargeId = await subscribe()
    await control('subscriptions/cancel', { chargeId })
    expect((await poll()).filter((u) => u.subscription)).toEqual([])
    await poll(['subscription'])
    await control('subscriptions/reenable', { chargeId })
    expect((await poll()).map((u) => u.subscription?.state)).toEqual(['active'])
    await poll(['message'])
    await control('subscriptions/fail-renewal', { chargeId })
    expect(await poll()).toEqual([])
  })

  it('refuses impossible changes with CONFLICT / BAD_INPUT / NOT_FOUND', async () => {
    const chargeId = await subscribe()
    expect(await control('subscriptions/reenable', { chargeId })).toMatchObject({
      status: 409,
      error: { code: 'CONFLICT', message: 'not canceled' },
    })
    await control('subscriptions/cancel', { chargeId })
    expect((await control('subscriptions/cancel', { chargeId })).status).toBe(409)
    expect((await control('subscriptions/fail-renewal', { chargeId })).status).toBe(409)
    expect((await control('subscriptions/cancel', { chargeId: 'nope' })).status).toBe(404)
    expect((await control('subscriptions/cancel', {})).status).toBe(400)
    const earlier = sandbox.recordEarlierCharge({
      user: { id: ALICE },
      title: 'Pack',
      payload: 'pack',
      amount: 5,
      date: sandbox.clock.unixTime(),
    })
    expect(await control('subscriptions/cancel', earlier)).toMatchObject({
      status: 400,
      error: { code: 'BAD_INPUT' },
    })
    sandbox.advanceClock((MONTH + 1) * 1000)
    await control('subscriptions/reenable', { chargeId }).then((r) => expect(r.status).toBe(409))
  })

  it('createInvoiceLink refuses a subscription period other than 30 days', async () => {
    for (const period of [MONTH - 1, MONTH * 2, 604_800]) {
      expect(
        await api('createInvoiceLink', {
          title: 'Pro',
          description: 'Pro',
          payload: 'p',
          currency: 'XTR',
          prices: [{ label: 'Pro', amount: 1 }],
          subscription_period: period,
        }),
      ).toMatchObject({
        ok: false,
        error_code: 400,
        description: 'Bad Request: SUBSCRIPTION_PERIOD_INVALID',
      })
    }
  })
})
