import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSandbox, type Message, type Sandbox, type Update } from '../src/index.ts'
import { callApi, tinyPng } from './helpers.ts'

const ALICE = 2_000_001
const BOB = 2_000_002

describe('paid media through the HTTP API: sendPaidMedia, the purchase, purchased_paid_media, the ledger', () => {
  let sandbox: Sandbox
  let token: string
  const api = (method: string, params: Record<string, unknown> = {}) =>
    callApi(sandbox.apiRoot, token, method, params)
  const buy = async (body: unknown) => {
    const res = await sandbox.fetchControl('paid-media-purchases', { body })
    return {
      status: res.status,
      ...((await res.json()) as {
        ok: boolean
        result?: { chargeId: string; update: unknown }
        error?: { code: string }
      }),
    }
  }
  const media = [{ type: 'photo', media: 'AgACAgSANDBOXphoto1' }]

  beforeAll(async () => {
    sandbox = await createSandbox({
      users: [
        { id: ALICE, firstName: 'Alice' },
        { id: BOB, firstName: 'Bob' },
      ],
    })
    token = sandbox.bot().token
    sandbox.sendText(ALICE, '/start')
    sandbox.sendText(BOB, '/start')
    await api('getUpdates', { allowed_updates: ['message', 'purchased_paid_media'] })
  })
  afterAll(() => sandbox.close())

  it('a purchase charges the user once, reaches the bot as purchased_paid_media and lands in getStarTransactions', async () => {
    const sent = await api('sendPaidMedia', {
      chat_id: ALICE,
      star_count: '250', // integers as strings, as Telegram takes them
      media,
      payload: 'album-7',
      caption: '<b>Album</b>',
      parse_mode: 'HTML',
    })
    expect(sent).toMatchObject({
      ok: true,
      result: {
        caption: 'Album',
        paid_media: {
          star_count: 250,
          paid_media: [{ type: 'photo', photo: [{ file_id: 'AgACAgSANDBOXphoto1' }] }],
        },
      },
    })
    const messageId = (sent.result as Message).message_id
    const before = ((await api('getUpdates')).result as Update[]).at(-1)?.update_id ?? 0

    const bought = await buy({ userId: ALICE, messageId })
    expect(bought).toMatchObject({
      ok: true,
      result: { update: { paid_media_payload: 'album-7' } },
    })
    const updates = (await api('getUpdates', { offset: before + 1 })).result as Update[]
    expect(updates.map((u) => u.purchased_paid_media)).toEqual([
      { from: expect.objectContaining({ id: ALICE }), paid_media_payload: 'album-7' },
    ])

    const rows = ((await api('getStarTransactions')).result as { transactions: unknown[] })
      .transactions
    expect(rows).toContainEqual({
      id: bought.result?.chargeId,
      amount: 250,
      date: expect.any(Number),
      source: {
        type: 'user',
        transaction_type: 'paid_media_payment',
        user: expect.objectContaining({ id: ALICE }),
        paid_media: [
          { type: 'photo', photo: [expect.objectContaining({ file_id: 'AgACAgSANDBOXphoto1' })] },
        ],
        paid_media_payload: 'album-7',
      },
    })
    expect((await api('getMyStarBalance')).result).toMatchObject({ amount: 250 })

    // The same user cannot buy the same message twice; refundStarPayment works on the purchase.
    expect(await buy({ userId: ALICE, messageId })).toMatchObject({
      status: 409,
      error: { code: 'CONFLICT' },
    })
    expect(
      await api('refundStarPayment', {
        user_id: ALICE,
        telegram_payment_charge_id: bought.result?.chargeId,
      }),
    ).toMatchObject({ ok: true })
    expect((await api('getMyStarBalance')).result).toMatchObject({ amount: 0 })
  })

  it('no payload: charged, in the ledger without paid_media_payload, and no update; uploads via attach://', async () => {
    const form = new FormData()
    form.set('chat_id', String(BOB))
    form.set('star_count', '3')
    form.set('media', JSON.stringify([{ type: 'photo', media: 'attach://pic' }]))
    form.set('pic', new Blob([tinyPng(5, 4)], { type: 'image/png' }), 'pic.png')
    const res = await fetch(`${sandbox.apiRoot}/bot${token}/sendPaidMedia`, {
      method: 'POST',
      body: form,
    })
    const sent = ((await res.json()) as { result: Message }).result
    expect(sent.paid_media?.paid_media[0]).toMatchObject({
      type: 'photo',
      photo: [{ width: 5, height: 4 }],
    })
    const before = ((await api('getUpdates')).result as Update[]).at(-1)?.update_id ?? 0
    const bought = await buy({ userId: BOB, messageId: sent.message_id })
    expect(bought).toMatchObject({ ok: true, result: { update: null } })
    expect((await api('getUpdates', { offset: before + 1 })).result).toEqual([])
    const row = sandbox.starTransactions().find((t) => t.id === bought.result?.chargeId)
    expect(row?.source).toMatchObject({ transaction_type: 'paid_media_payment' })
    expect(row?.source).not.toHaveProperty('paid_media_payload')
  })

  it('refuses a price outside 1–25,000 Stars, bad media and a long payload with Telegram-style errors', async () => {
    for (const star_count of [0, -1, 25_001]) {
      expect(await api('sendPaidMedia', { chat_id: ALICE, star_count, media })).toMatchObject({
        ok: false,
        error_code: 400,
        description: 'Bad Request: STARS_AMOUNT_INVALID',
      })
    }
    expect(await api('sendPaidMedia', { chat_id: ALICE, star_count: 25_000, media })).toMatchObject(
      { ok: true },
    )
    expect(await api('sendPaidMedia', { chat_id: ALICE, star_count: 1, media })).toMatchObject({
      ok: true,
    })
    const cases: [Record<string, unknown>, string][] = [
      // Telegram reads a missing or unreadable star_count as 0.
      [{ chat_id: ALICE, media }, 'Bad Request: STARS_AMOUNT_INVALID'],
      [{ chat_id: ALICE, star_count: 5 }, 'Bad Request: parameter "media" is required'],
      [
        { chat_id: ALICE, star_count: 5, media: [] },
        'Bad Request: wrong number of media specified',
      ],
      [
        { chat_id: ALICE, star_count: 5, media: '{' },
        "Bad Request: can't parse paid media JSON object",
      ],
      [
        { chat_id: ALICE, star_count: 5, media: { type: 'photo' } },
        'Bad Request: expected an Array of InputPaidMedia',
      ],
      [
        { chat_id: ALICE, star_count: 5, media, payload: 'x'.repeat(129) },
        'Bad Request: PAYLOAD_INVALID',
      ],
      [{ chat_id: ALICE, star_count: 'five', media }, 'Bad Request: STARS_AMOUNT_INVALID'],
    ]
    for (const [params, description] of cases) {
      expect(await api('sendPaidMedia', params), JSON.stringify(params)).toMatchObject({
        ok: false,
        description,
      })
    }
    expect(await buy({ userId: ALICE, messageId: 9999 })).toMatchObject({ status: 404 })
  })
})
