import { configureAccess, defineFeature, listLedger, setQuota } from '@e-stars/billing'
import type { Message } from '@e-stars/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOfflineModel } from '../src/model/offline.ts'
import { startNudges } from '../src/nudges.ts'
import {
  buttonOf,
  FIRST_PACK,
  ON_SALE,
  opening,
  PACKS,
  SUBSCRIPTION,
  startsWith,
  WORDS,
} from './catalog-words.ts'
import { ALICE, eventually, launchBot, type Stack, startStack, userOf } from './stack.ts'

/**
 * One user's whole story, in one process on loopback: the sandbox plays Telegram and the user,
 * the e-Stars server keeps the money, the reference bot sits between them. Prices are raised by
 * the operator's knobs (1 credit per token, 300 free tokens a day, low-balance alert under 200)
 * so running out takes a handful of questions, not hundreds.
 */
let stack: Stack
let bot: Awaited<ReturnType<typeof launchBot>>
let nudges: ReturnType<typeof startNudges>
const alice = () => userOf(stack.sandbox, ALICE)
const charges: string[] = []

beforeAll(async () => {
  stack = await startStack()
  await defineFeature(stack.db, {
    projectId: stack.projectId,
    key: 'ai.tokens',
    name: 'AI tokens',
    kind: 'metered',
    credits: 1,
    perUnits: 1,
  })
  await setQuota(stack.db, {
    projectId: stack.projectId,
    featureKey: 'ai.tokens',
    scope: 'project',
    limit: 300,
    period: 'day',
    free: true,
  })
  await configureAccess(stack.db, { projectId: stack.projectId, lowBalanceThreshold: 200 })
  bot = await launchBot(stack, createOfflineModel({ maxTokens: 120 }))
  nudges = startNudges(bot.reference, {
    client: stack.client,
    logger: bot.logger,
    intervalMs: 100,
  })
})

afterAll(async () => {
  await nudges?.stop()
  bot?.stop()
  await stack?.close()
})

const balance = () => stack.client.credits.balance.query({ telegramUserId: ALICE })
const ledger = async () =>
  (await listLedger(stack.db, { projectId: stack.projectId, telegramUserId: ALICE, limit: 200 }))
    .entries
const texts = (messages: Message[]) => messages.map((m) => m.text ?? '')
const NOT_ENOUGH = opening(WORDS.refusals.notEnough('x', 2, 1, null))
/** An answer once its cost is known (the settle adds it after delivery), or a refusal. */
const isAnswer = (m: Message) =>
  /— [\d,]+ tokens · /.test(m.text ?? '') || (m.text?.startsWith(NOT_ENOUGH) ?? false)
const RECEIVED = opening(WORDS.payments.received([], 0), 2)

async function pay(invoice: Message) {
  const paid = await stack.sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
  if (paid.status !== 'paid') throw new Error(`payment ${paid.status}`)
  charges.push(paid.chargeId)
  return alice().next(invoice.message_id, startsWith(RECEIVED))
}

describe('the reference bot, end to end (sandbox + e-Stars + bot)', () => {
  it('/start welcomes the user with the free allowance and a zero balance', async () => {
    const welcome = await alice().say('/start', startsWith(WORDS.start.welcome('Alice')))
    expect(welcome.text).toBe(
      [
        WORDS.start.welcome('Alice'),
        '',
        WORDS.start.askFree({ limit: 300, remaining: 300, period: 'day', resetsAt: null }),
        WORDS.start.imagine(20, 10),
        WORDS.start.buy,
        WORDS.start.more,
        '',
        WORDS.start.balance(0),
      ].join('\n'),
    )
    expect(welcome.text).toContain('300 tokens of answers are free every day; 300 left.')
  })

  it('/buy lists packs and plans as buttons; a tap sends the invoice; paying credits the pack', async () => {
    const menu = await alice().say('/buy', startsWith(WORDS.buy.menu))
    const buttons = menu.reply_markup?.inline_keyboard?.flat().map((b) => b?.text)
    expect(buttons).toEqual(ON_SALE.map(buttonOf))
    const { callbackQueryId } = stack.sandbox.pressButton(ALICE, menu.message_id, {
      data: `buy:${FIRST_PACK.key}`,
    })
    expect(await stack.sandbox.waitForCallbackAnswer(callbackQueryId)).toMatchObject({
      text: WORDS.buy.sending,
    })
    const invoice = await alice().next(menu.message_id, (m) => m.invoice !== undefined)
    expect(invoice.invoice).toMatchObject({
      title: FIRST_PACK.title,
      currency: 'XTR',
      total_amount: FIRST_PACK.priceStars,
    })
    const thanks = await pay(invoice)
    expect(thanks.text).toBe(
      WORDS.payments.received([WORDS.payments.credits(FIRST_PACK.credits)], FIRST_PACK.credits),
    )
    expect(await balance()).toMatchObject({ available: FIRST_PACK.credits, held: 0, debt: 0 })
    const [grant] = await ledger()
    expect(grant).toMatchObject({
      kind: 'grant',
      amount: FIRST_PACK.credits,
      availableAfter: FIRST_PACK.credits,
    })
  })

  let refusal: Message
  it('answers questions free first, then by tokens, until the credits run out; then a one-tap invoice', async () => {
    const answers: Message[] = []
    for (let i = 1; i <= 40; i++) {
      const reply = await alice().say(`Question ${i}: how should I plan my week?`, isAnswer)
      if (reply.text?.startsWith(NOT_ENOUGH)) {
        refusal = reply
        break
      }
      answers.push(reply)
    }
    expect(refusal).toBeDefined()
    const footers = answers.map((a) => /— ([\d,]+) tokens · (.+)$/.exec(a.text ?? ''))
    expect(footers.every(Boolean)).toBe(true)
    expect(footers[0]?.[2]).toBe(WORDS.ask.cost({ charged: 0, freeQuantity: 1, shortfall: 0 }))
    const partFree = WORDS.ask.cost({ charged: 2, freeQuantity: 1, shortfall: 0 })
    expect(footers.some((f) => f?.[2]?.endsWith(partFree.slice(1)))).toBe(true)
    expect(footers.at(-1)?.[2]).toMatch(/^[\d,]+ credits$/)
    expect(answers[0]?.text).toMatch(
      /^\(offline model\) About “Question 1: how should I plan my week\?”: /,
    )

    // Every answer was settled at the tokens the user saw; the free part cost nothing.
    const entries = await ledger()
    // A free answer may still settle a hold (charging 0); the charged ones match the footers.
    const settles = entries
      .filter((e) => e.kind === 'settle' && (e.metadata as { charged: number }).charged > 0)
      .reverse()
    const paidTokens = footers
      .map((f) => Number(f?.[1]?.replace(/,/g, '')))
      .filter(
        (_, i) => footers[i]?.[2] !== WORDS.ask.cost({ charged: 0, freeQuantity: 1, shortfall: 0 }),
      )
    expect(settles.map((e) => (e.metadata as { tokens: number }).tokens)).toEqual(paidTokens)
    const totalTokens = footers.reduce((sum, f) => sum + Number(f?.[1]?.replace(/,/g, '')), 0)
    const now = await balance()
    expect(now.held).toBe(0)
    expect(FIRST_PACK.credits - now.available).toBe(totalTokens - 300)

    const need = /it needs up to (\d+) credits and you have (\d+)\./.exec(refusal.text ?? '')
    expect(Number(need?.[2])).toBe(now.available)
    expect(Number(need?.[1])).toBeGreaterThan(now.available)
    expect(refusal.text).toMatch(
      /Your free tokens come back at 00:00 UTC \(in .+\)\.\nTop up with one tap:$/,
    )
    const invoice = await alice().next(refusal.message_id, (m) => m.invoice !== undefined)
    expect(invoice.invoice).toMatchObject({
      title: FIRST_PACK.title,
      total_amount: FIRST_PACK.priceStars,
    })
  })

  it('nudged once when the free answers ran out and once when the balance fell under 200', async () => {
    const heads = opening(WORDS.nudges.lowBalance(0), 2)
    await eventually(() => texts(stack.sandbox.transcript(ALICE)).some((t) => t.startsWith(heads)))
    const all = texts(stack.sandbox.transcript(ALICE))
    const freeGone = WORDS.nudges.freeExhausted('day', null).split('.')[0] ?? ''
    expect(freeGone).toContain('today')
    expect(all.filter((t) => t.startsWith(freeGone))).toHaveLength(1)
    const low = all.filter((t) => t.startsWith(heads))
    expect(low).toHaveLength(1)
    const left = Number(/(\d+)/.exec(low[0] ?? '')?.[1])
    expect(low[0]).toBe(WORDS.nudges.lowBalance(left))
    const nudge = stack.sandbox.transcript(ALICE).find((m) => m.text?.startsWith(heads))
    expect(nudge?.reply_markup?.inline_keyboard?.flat().map((b) => b?.callback_data)).toEqual(
      PACKS.map((p) => `buy:${p.key}`),
    )
  })

  it('pays the invoice prompt with one tap and gets answers again', async () => {
    const invoice = await alice().next(refusal.message_id, (m) => m.invoice !== undefined)
    const before = (await balance()).available
    const thanks = await pay(invoice)
    expect(thanks.text).toBe(
      WORDS.payments.received(
        [WORDS.payments.credits(FIRST_PACK.credits)],
        before + FIRST_PACK.credits,
      ),
    )
    const answer = await alice().say('And what about next week?', isAnswer)
    expect(answer.text).toMatch(/— [\d,]+ tokens · [\d,]+ credits$/)
    expect(answer.text).not.toContain('free')
  })

  it('draws images until the daily quota, then says when it resets and how to get more', async () => {
    const before = (await balance()).available
    for (let i = 1; i <= 10; i++) {
      const photo = await alice().say(`/imagine a fox, take ${i}`, (m) => m.photo !== undefined)
      expect(photo.caption).toBe(
        WORDS.imagine.caption(`a fox, take ${i}`, 20, {
          remaining: 10 - i,
          limit: 10,
          period: 'day',
        }),
      )
      if (i === 1) {
        const file = stack.sandbox.file(photo.photo?.at(-1)?.file_id ?? '')
        expect(file?.data.subarray(1, 4).toString('ascii')).toBe('PNG')
      }
    }
    expect((await balance()).available).toBe(before - 200)
    // The tenth filled the quota: one nudge says so.
    await eventually(() =>
      texts(stack.sandbox.transcript(ALICE)).some((t) =>
        t.startsWith(
          WORDS.nudges.quotaExhausted(10, WORDS.refusals.images, 'day', null).split(';')[0] ?? '',
        ),
      ),
    )
    const usedAll = opening(WORDS.refusals.quota('x', 1, 'day', null))
    const refused = await alice().say('/imagine one more fox', startsWith(usedAll))
    const resetsAt =
      (await stack.client.access.check.query({ telegramUserId: ALICE, feature: 'image' })).quota
        ?.resetsAt ?? null
    expect(refused.text).toBe(
      WORDS.refusals.quota(WORDS.refusals.images, 10, 'day', resetsAt) +
        WORDS.refusals.raises(SUBSCRIPTION.title, 200, 'day'),
    )
    expect(refused.text).toContain(`${SUBSCRIPTION.title} raises it to 200 a day.`)
    expect(refused.text).toMatch(/The limit resets at 00:00 UTC \(in .+\)\./)
    expect(refused.reply_markup?.inline_keyboard?.flat()).toEqual([
      { text: buttonOf(SUBSCRIPTION), callback_data: `buy:${SUBSCRIPTION.key}` },
    ])
    expect((await balance()).available).toBe(before - 200)
    const images = (await ledger()).filter((e) => e.kind === 'settle' && e.reason === 'Image')
    expect(images).toHaveLength(10)
    expect(
      texts(stack.sandbox.transcript(ALICE)).filter((t) =>
        t.startsWith(opening(WORDS.nudges.quotaExhausted(1, 'x', 'day', null), 4)),
      ),
    ).toHaveLength(1)
  })

  it('the operator refunds the first payment: the user is told and the credits are taken back', async () => {
    const before = await balance()
    const mark = stack.sandbox.transcript(ALICE).at(-1)?.message_id ?? 0
    const outcome = await stack.client.payments.refund.mutate({
      telegramPaymentChargeId: charges[0] ?? '',
      reason: 'Customer asked for a refund',
    })
    expect(outcome).toMatchObject({ alreadyRefunded: false, policy: 'debt' })
    // The first pack was partly spent: the unspent part is voided, the spent part taken back or owed.
    expect(outcome.voided + outcome.spent).toBe(FIRST_PACK.credits)
    expect(outcome.spent).toBe(outcome.repaidFromOtherLots + outcome.debtAdded)
    const told = await alice().next(mark, startsWith('Your payment of'))
    const parts = [
      outcome.voided > 0 ? `${outcome.voided} unused credits were removed` : null,
      outcome.repaidFromOtherLots > 0
        ? `${outcome.repaidFromOtherLots} credits you had already used were taken from your balance`
        : null,
      outcome.debtAdded > 0
        ? `${outcome.debtAdded} credits already used are owed from your next top-up`
        : null,
    ].filter(Boolean)
    expect(told.text).toBe(
      `Your payment of ${FIRST_PACK.priceStars} ⭐ was refunded. ${parts.join('; ')}.`,
    )
    const after = await balance()
    expect(after.available).toBe(before.available - outcome.voided - outcome.repaidFromOtherLots)
    expect(after.debt).toBe(outcome.debtAdded)
    const kinds = (await ledger()).map((e) => e.kind)
    expect(kinds[0]).toBe('revoke')
    const { payments } = await stack.client.payments.list.query({ telegramUserId: ALICE })
    expect(payments.find((p) => p.telegramPaymentChargeId === charges[0])?.status).toBe('refunded')
    const shown = await alice().say('/balance', startsWith(opening(WORDS.balance.available(0), 1)))
    expect(shown.text).toContain(WORDS.balance.available(after.available))
    if (after.debt > 0) expect(shown.text).toContain(WORDS.balance.debt(after.debt))
  })

  it('/balance shows the limits left with their reset times', async () => {
    const shown = await alice().say('/balance', startsWith(opening(WORDS.balance.available(0), 1)))
    expect(shown.text).toMatch(
      /Free answers: 0 of 300 tokens left today, back at 00:00 UTC \(in .+\)\.\nImages: 0 of 10 left today, resets at 00:00 UTC \(in .+\)\./,
    )
    expect(shown.text?.endsWith(WORDS.balance.footer)).toBe(true)
  })

  it('/usage shows the latest lines in the console’s plain words', async () => {
    const usage = await alice().say('/usage', startsWith(WORDS.usage.title))
    const lines = usage.text?.split('\n') ?? []
    expect(lines[0]).toBe(WORDS.usage.title)
    expect(lines).toHaveLength(11)
    for (const line of lines.slice(1)) expect(line).toMatch(/^\d{1,2} \w{3} \d\d:\d\d · /)
    expect(lines[1]).toMatch(
      / · −[\d,]+ revoked(, [\d,]+ became debt)?: refund by the bot, Customer asked for a refund/,
    )
    expect(lines[2]).toMatch(/ · −20 credits: Image \(held 20\)$/)
    // The same sentences as the console's timeline, holds and releases left out.
    const timeline = await stack.client.ledger.timeline.query({ telegramUserId: ALICE, limit: 50 })
    expect(lines.slice(1).map((l) => l.split(' · ').slice(1).join(' · '))).toEqual(
      timeline.entries
        .filter((e) => e.kind !== 'hold' && e.kind !== 'release')
        .slice(0, 10)
        .map((e) => e.text),
    )
  })

  it('/paysupport lists both payments with their charge ids, the refunded one marked', async () => {
    const support = await alice().say('/paysupport', startsWith(WORDS.payments.supportIntro))
    expect(support.text).toContain(`id ${charges[0]}`)
    expect(support.text).toContain(`id ${charges[1]}`)
    // The product's title, as the user bought it ("Pack S"), not its key ("pack_s").
    expect(support.text).toContain(`${FIRST_PACK.priceStars} ⭐ ${FIRST_PACK.title} — refunded`)
    expect(support.text).not.toContain(FIRST_PACK.key)
  })

  it('/help, /plans and an unknown command answer in plain words', async () => {
    const help = await alice().say('/help', startsWith(WORDS.help.split('\n')[0] ?? ''))
    expect(help.text).toBe(WORDS.help)
    const plans = await alice().say('/plans', startsWith(WORDS.plans.list([]).split('\n')[0] ?? ''))
    const planned = ON_SALE.filter((p) => p.kind !== 'pack')
    expect(plans.text).toBe(WORDS.plans.list(planned.map(WORDS.plans.line)))
    expect(plans.text).toContain(`${SUBSCRIPTION.priceStars} ⭐ a month`)
    expect((await alice().say('/dance', startsWith(WORDS.unhandled.unknownCommand))).text).toBe(
      WORDS.unhandled.unknownCommand,
    )
  })

  it('nothing went to bot.catch along the way', () => {
    expect(bot.logger.lines.filter((l) => l.level === 'error')).toEqual([])
  })
})
