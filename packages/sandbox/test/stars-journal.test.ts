import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSandbox, type Sandbox } from '../src/index.ts'
import { callApi, createShopBot, launchPolling, type ShopBot } from './helpers.ts'

const ALICE = 2_000_001
const CAROL = 2_000_101
const DAY = 86_400

describe('the Stars journal: Telegram ledger that outlives a restart', () => {
  let dir: string
  let journal: string
  const running: Sandbox[] = []
  const start = async () => {
    const sandbox = await createSandbox({
      users: [{ id: ALICE, firstName: 'Alice' }],
      starsJournal: journal,
    })
    running.push(sandbox)
    return sandbox
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sandbox-journal-'))
    journal = join(dir, 'data', 'sandbox-stars.json')
  })
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.close()))
    rmSync(dir, { recursive: true, force: true })
  })

  it('a paid invoice, an earlier charge and a refund are all there after a restart', async () => {
    const first = await start()
    const token = first.bot().token
    const shop: ShopBot = createShopBot(token, first.apiRoot)
    await launchPolling(shop.bot)
    first.sendText(ALICE, 'hi')
    const sent = await callApi(first.apiRoot, token, 'sendInvoice', {
      chat_id: ALICE,
      title: 'Pack',
      description: 'Credits',
      payload: 'order-1',
      currency: 'XTR',
      prices: [{ label: 'Pack', amount: 30 }],
    })
    const paid = await first.payInvoice(ALICE, {
      messageId: (sent.result as { message_id: number }).message_id,
    })
    shop.bot.stop('restart')
    if (paid.status !== 'paid') throw new Error(paid.status)
    const now = first.clock.unixTime()
    const earlier = first.recordEarlierCharge({
      user: { id: CAROL, firstName: 'Carol' },
      title: 'Pack S',
      payload: 'order-0',
      amount: 50,
      date: now - 3 * DAY,
    })
    first.chargeback(paid.chargeId)
    const before = first.starTransactions()
    // Chronological even though the earlier charge was recorded last.
    expect(before.map((t) => t.id)).toEqual([earlier.chargeId, paid.chargeId, paid.chargeId])
    await first.close()

    const second = await start()
    expect(second.starTransactions()).toEqual(before)
    expect(second.starBalance()).toBe(50)
    // Carol, who paid before the restart, is a user Telegram knows: the bot may refund her.
    const refund = await callApi(second.apiRoot, token, 'refundStarPayment', {
      user_id: CAROL,
      telegram_payment_charge_id: earlier.chargeId,
    })
    expect(refund).toMatchObject({ ok: true, result: true })
    const rows = await callApi(second.apiRoot, token, 'getStarTransactions', {})
    expect((rows.result as { transactions: unknown[] }).transactions).toHaveLength(4)
    await second.close()

    const third = await start()
    expect(third.starBalance()).toBe(0)
    expect(() => third.chargeback(paid.chargeId)).toThrow(/ALREADY_REFUNDED/)
  })

  it('an earlier charge may not be dated in the future', async () => {
    const sandbox = await start()
    expect(() =>
      sandbox.recordEarlierCharge({
        user: { id: CAROL },
        title: 'Pack',
        payload: 'p',
        amount: 10,
        date: sandbox.clock.unixTime() + 60,
      }),
    ).toThrow(/now or before/)
    expect(sandbox.starTransactions()).toEqual([])
  })

  it('a damaged journal stops the start instead of forgetting the ledger', async () => {
    mkdirSync(join(dir, 'data'))
    writeFileSync(journal, '{"version":1,"bots":')
    await expect(start()).rejects.toThrow(/Stars journal .* is unreadable.*move it away/)
  })
})
