import { configureAccess, defineFeature, listLedger, setQuota } from '@e-stars/billing'
import type { Message } from '@e-stars/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOfflineModel } from '../src/model/offline.ts'
import { startNudges } from '../src/nudges.ts'
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
const startsWith = (prefix: string) => (m: Message) => m.text?.startsWith(prefix) ?? false
const isAnswer = (m: Message) =>
  /— [\d ]+ tokens/.test(m.text ?? '') || (m.text?.startsWith('Not enough credits') ?? false)

async function pay(invoice: Message) {
  const paid = await stack.sandbox.payInvoice(ALICE, { messageId: invoice.message_id })
  if (paid.status !== 'paid') throw new Error(`payment ${paid.status}`)
  charges.push(paid.chargeId)
  return alice().next(invoice.message_id, (m) => m.text?.startsWith('Payment received') ?? false)
}

describe('the reference bot, end to end (sandbox + e-Stars + bot)', () => {
  it('/start welcomes the user with the free allowance and a zero balance', async () => {
    const welcome = await alice().say('/start', startsWith('Welcome'))
    expect(welcome.text).toBe(
      [
        'Welcome, Alice! I am an AI assistant that runs on credits, paid with Telegram Stars.',
        '',
        '• Just send me a message to ask anything. 300 tokens of answers are free every day; 300 left.',
        '• /imagine <what> draws a picture (20 credits, up to 10 a day).',
        '• /buy tops up credits, /plans shows Pro and the monthly plan.',
        '• /balance, /usage and /help any time.',
        '',
        'Your balance: 0 credits.',
      ].join('\n'),
    )
  })

  it('/buy lists packs and plans as buttons; a tap sends the invoice; paying credits the pack', async () => {
    const menu = await alice().say('/buy', startsWith('Choose a credit pack'))
    const buttons = menu.reply_markup?.inline_keyboard?.flat().map((b) => b?.text)
    expect(buttons).toEqual([
      'Pack S — 500 credits · 50 ⭐',
      'Pack M — 1200 credits · 100 ⭐',
      'Pack L — 3500 credits · 250 ⭐',
      'Pro for 30 days · 150 ⭐',
      'Pro for life · 500 ⭐',
      'Plus · 200 ⭐ a month',
    ])
    const { callbackQueryId } = stack.sandbox.pressButton(ALICE, menu.message_id, {
      data: 'buy:pack_s',
    })
    expect(await stack.sandbox.waitForCallbackAnswer(callbackQueryId)).toMatchObject({
      text: 'Sending the invoice…',
    })
    const invoice = await alice().next(menu.message_id, (m) => m.invoice !== undefined)
    expect(invoice.invoice).toMatchObject({ title: 'Pack S', currency: 'XTR', total_amount: 50 })
    const thanks = await pay(invoice)
    expect(thanks.text).toBe(
      'Payment received, thank you! +500 credits.\nBalance: 500 credits. Ask away!',
    )
    expect(await balance()).toMatchObject({ available: 500, held: 0, debt: 0 })
    const [grant] = await ledger()
    expect(grant).toMatchObject({ kind: 'grant', amount: 500, availableAfter: 500 })
  })

  let refusal: Message
  it('answers questions free first, then by tokens, until the credits run out; then a one-tap invoice', async () => {
    const answers: Message[] = []
    for (let i = 1; i <= 40; i++) {
      const reply = await alice().say(`Question ${i}: how should I plan my week?`, isAnswer)
      if (reply.text?.startsWith('Not enough credits')) {
        refusal = reply
        break
      }
      answers.push(reply)
    }
    expect(refusal).toBeDefined()
    const footers = answers.map((a) => /— ([\d ]+) tokens · (.+)$/.exec(a.text ?? ''))
    expect(footers.every(Boolean)).toBe(true)
    expect(footers[0]?.[2]).toBe('free')
    expect(footers.some((f) => f?.[2]?.endsWith('(part free)'))).toBe(true)
    expect(footers.at(-1)?.[2]).toMatch(/^[\d ]+ credits$/)
    expect(answers[0]?.text).toMatch(
      /^\(offline model\) About “Question 1: how should I plan my week\?”: /,
    )

    // Every answer was settled at the tokens the user saw; the free part cost nothing.
    const entries = await ledger()
    const settles = entries.filter((e) => e.kind === 'settle').reverse()
    const paidTokens = footers
      .map((f) => Number(f?.[1]?.replace(/ /g, '')))
      .filter((_, i) => footers[i]?.[2] !== 'free')
    expect(settles.map((e) => (e.metadata as { tokens: number }).tokens)).toEqual(paidTokens)
    const totalTokens = footers.reduce((sum, f) => sum + Number(f?.[1]?.replace(/ /g, '')), 0)
    const now = await balance()
    expect(now.held).toBe(0)
    expect(500 - now.available).toBe(totalTokens - 300)

    const need = /it needs up to (\d+) credits and you have (\d+)\./.exec(refusal.text ?? '')
    expect(Number(need?.[2])).toBe(now.available)
    expect(Number(need?.[1])).toBeGreaterThan(now.available)
    expect(refusal.text).toMatch(
      /Your free prompts come back at 00:00 UTC \(in .+\)\.\nTop up with one tap:$/,
    )
    const invoice = await alice().next(refusal.message_id, (m) => m.invoice !== undefined)
    expect(invoice.invoice).toMatchObject({ title: 'Pack S', total_amount: 50 })
  })

  it('nudged once when the free answers ran out and once when the balance fell under 200', async () => {
    await eventually(() =>
      texts(stack.sandbox.transcript(ALICE)).some((t) => t.startsWith('Heads up')),
    )
    const all = texts(stack.sandbox.transcript(ALICE))
    expect(
      all.filter((t) => t.startsWith('That was the last of your free answers today')),
    ).toHaveLength(1)
    const low = all.filter((t) => t.startsWith('Heads up'))
    expect(low).toHaveLength(1)
    expect(low[0]).toMatch(/^Heads up: you have \d+ credits left\. Top up with one tap:$/)
    const nudge = stack.sandbox.transcript(ALICE).find((m) => m.text?.startsWith('Heads up'))
    expect(nudge?.reply_markup?.inline_keyboard?.flat().map((b) => b?.callback_data)).toEqual([
      'buy:pack_s',
      'buy:pack_m',
      'buy:pack_l',
    ])
  })

  it('pays the invoice prompt with one tap and gets answers again', async () => {
    const invoice = await alice().next(refusal.message_id, (m) => m.invoice !== undefined)
    const before = (await balance()).available
    const thanks = await pay(invoice)
    expect(thanks.text).toBe(
      `Payment received, thank you! +500 credits.\nBalance: ${before + 500} credits. Ask away!`,
    )
    const answer = await alice().say('And what about next week?', isAnswer)
    expect(answer.text).toMatch(/— [\d ]+ tokens · [\d ]+ credits$/)
    expect(answer.text).not.toContain('free')
  })

  it('draws images until the daily quota, then says when it resets and how to get more', async () => {
    const before = (await balance()).available
    for (let i = 1; i <= 10; i++) {
      const photo = await alice().say(`/imagine a fox, take ${i}`, (m) => m.photo !== undefined)
      expect(photo.caption).toBe(`“a fox, take ${i}” — 20 credits · ${10 - i} of 10 left today`)
      if (i === 1) {
        const file = stack.sandbox.file(photo.photo?.at(-1)?.file_id ?? '')
        expect(file?.data.subarray(1, 4).toString('ascii')).toBe('PNG')
      }
    }
    expect((await balance()).available).toBe(before - 200)
    // The tenth filled the quota: one nudge says so.
    await eventually(() =>
      texts(stack.sandbox.transcript(ALICE)).some((t) =>
        t.startsWith('That was your last of 10 images today'),
      ),
    )
    const refused = await alice().say('/imagine one more fox', startsWith('You have used all'))
    expect(refused.text).toMatch(
      /^You have used all 10 images allowed today\. The limit resets at 00:00 UTC \(in .+\)\.\nPlus raises it: Pro features and 1500 credits every month\.$/,
    )
    expect(refused.reply_markup?.inline_keyboard?.flat()).toEqual([
      { text: 'Plus · 200 ⭐ a month', callback_data: 'buy:plus' },
    ])
    expect((await balance()).available).toBe(before - 200)
    const images = (await ledger()).filter((e) => e.kind === 'settle' && e.reason === 'Image')
    expect(images).toHaveLength(10)
    expect(
      texts(stack.sandbox.transcript(ALICE)).filter((t) => t.startsWith('That was your last of')),
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
    // Pack S was partly spent: the unspent part is voided, the spent part taken back or owed.
    expect(outcome.voided + outcome.spent).toBe(500)
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
    expect(told.text).toBe(`Your payment of 50 ⭐ was refunded. ${parts.join('; ')}.`)
    const after = await balance()
    expect(after.available).toBe(before.available - outcome.voided - outcome.repaidFromOtherLots)
    expect(after.debt).toBe(outcome.debtAdded)
    const kinds = (await ledger()).map((e) => e.kind)
    expect(kinds[0]).toBe('revoke')
    const { payments } = await stack.client.payments.list.query({ telegramUserId: ALICE })
    expect(payments.find((p) => p.telegramPaymentChargeId === charges[0])?.status).toBe('refunded')
    const shown = await alice().say('/balance', startsWith('Balance'))
    expect(shown.text).toContain(`Balance: ${after.available} credits.`)
    if (after.debt > 0)
      expect(shown.text).toContain(
        `Owed from a refund: ${after.debt} credits (taken from your next top-up).`,
      )
  })

  it('/balance shows the limits left with their reset times', async () => {
    const shown = await alice().say('/balance', startsWith('Balance'))
    expect(shown.text).toMatch(
      /Free answers: 0 of 300 tokens left today, back at 00:00 UTC \(in .+\)\.\nImages: 0 of 10 left today, resets at 00:00 UTC \(in .+\)\./,
    )
    expect(shown.text).toMatch(/Top up: \/buy · History: \/usage$/)
  })

  it('/usage shows the latest lines in the console’s plain words', async () => {
    const usage = await alice().say('/usage', startsWith('Your latest activity'))
    const lines = usage.text?.split('\n') ?? []
    expect(lines[0]).toBe('Your latest activity (newest first):')
    expect(lines).toHaveLength(11)
    for (const line of lines.slice(1)) expect(line).toMatch(/^\d{1,2} \w{3} \d\d:\d\d · /)
    expect(lines[1]).toMatch(/ · −\d+ revoked: refund by the bot, Customer asked for a refund/)
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
    const support = await alice().say('/paysupport', startsWith('Payment support'))
    expect(support.text).toMatch(/^Payment support: /)
    expect(support.text).toContain(`id ${charges[0]}`)
    expect(support.text).toContain(`id ${charges[1]}`)
    expect(support.text).toMatch(/50 ⭐ pack_s — refunded/)
  })

  it('/help, /plans and an unknown command answer in plain words', async () => {
    const help = await alice().say('/help', startsWith('Send any message'))
    expect(help.text).toContain('/imagine <what> — draw a picture')
    const plans = await alice().say('/plans', startsWith('Plans'))
    expect(plans.text).toMatch(/^Plans:\n• Pro for 30 days — 150 ⭐: Pro features for 30 days\./)
    expect(plans.text).toContain('• Plus — 200 ⭐ a month, renews by itself, cancel any time')
    expect((await alice().say('/dance', startsWith('I do not know'))).text).toBe(
      'I do not know that command. /help lists what I can do.',
    )
  })

  it('nothing went to bot.catch along the way', () => {
    expect(bot.logger.lines.filter((l) => l.level === 'error')).toEqual([])
  })
})
