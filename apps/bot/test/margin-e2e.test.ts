import { DEFAULT_USD_PER_STAR_MICROS } from '@e-stars/billing'
import { grants, ledgerEntries, projects } from '@e-stars/db'
import type { Message } from '@e-stars/sandbox'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createOfflineModel } from '../src/model/offline.ts'
import { countTokens } from '../src/model/tokenizer.ts'
import { type ChatModel, SYSTEM_PROMPT } from '../src/model/types.ts'
import { FIRST_PACK, opening, startsWith, WORDS } from './catalog-words.ts'
import { launchBot, type Stack, startStack, userOf } from './stack.ts'

/**
 * Issue 14's end-to-end test, through the reference bot: a heavy user buys a pack with Stars and
 * asks question after question. Every answer's ledger entry carries what it cost (the offline
 * model's configured price on the tokens it reports) and what it earned (the credits it burned,
 * at the paid lot's value); the console's margin procedures (what the Margin page draws) show
 * exactly the ledger's sums. Then the operator sets a daily cost cap just above what was spent:
 * one more answer fits, the next is refused, and the bot says so in plain words, with when it
 * resets — nothing charged, the model not called.
 */
let stack: Stack
let stop: () => void
let consoleCall: <T>(path: string, input: unknown, mutation?: boolean) => Promise<T>
const started = new Date(Date.now() - 60_000)

const HEAVY = 3_970_001
/** A price that makes the heavy user unprofitable: 20 USD in, 80 USD out per million tokens. */
const PRICE = { inputPerMillionMicros: 20_000_000, outputPerMillionMicros: 80_000_000 }
const MAX_TOKENS = 120
/** Free tokens left today when the questions start: the first answer is part free. */
const FREE_LEFT = 40
const offline = createOfflineModel({ maxTokens: MAX_TOKENS, price: PRICE })
const prompts: string[] = []
/** The offline model, counting its calls (a refused question must not reach it). */
const model: ChatModel = {
  ...offline,
  complete: (prompt, options) => {
    prompts.push(prompt)
    return offline.complete(prompt, options)
  },
}

beforeAll(async () => {
  stack = await startStack()
  ;({ stop } = await launchBot(stack, model))
  consoleCall = await consoleSession(stack)
}, 120_000)

afterAll(async () => {
  stop?.()
  await stack?.close()
})

/** The operator's console session over HTTP (the Margin page's own procedures). */
async function consoleSession(s: Stack) {
  const operator = s.server.demoOperator
  if (!operator) throw new Error('the test server should have a demo operator')
  const login = await fetch(`${s.server.url}/trpc/operator.auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(operator),
  })
  expect(login.status).toBe(200)
  const cookie = login.headers.get('set-cookie')?.split(';')[0] ?? ''
  const { csrfToken } = ((await login.json()) as { result: { data: { csrfToken: string } } }).result
    .data
  return async <T>(path: string, input: unknown, mutation = false): Promise<T> => {
    const headers = { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' }
    const response = mutation
      ? await fetch(`${s.server.url}/trpc/${path}`, {
          method: 'POST',
          headers,
          body: JSON.stringify(input),
        })
      : await fetch(
          `${s.server.url}/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`,
          { headers },
        )
    const body = (await response.json()) as { result?: { data: T }; error?: unknown }
    if (!body.result) throw new Error(`${path}: ${JSON.stringify(body.error)}`)
    return body.result.data
  }
}

interface Row {
  key: string
  revenueMicros: number
  costMicros: number
  marginMicros: number
  acts: number
}
const period = () => ({
  projectId: stack.projectId,
  from: started.toISOString(),
  to: new Date(Date.now() + 60_000).toISOString(),
})
const summary = () =>
  consoleCall<Row & { freeCostMicros: number; marginPercent: number | null }>(
    'margin.summary',
    period(),
  )
const breakdown = (by: string) => consoleCall<Row[]>('margin.breakdown', { ...period(), by })

/** Every ledger entry of the project (the views read them all), oldest first. */
async function projectEntries() {
  return (await stack.db.select().from(ledgerEntries))
    .filter((e) => e.projectId === stack.projectId && e.createdAt >= started)
    .sort((a, b) => Number(a.id) - Number(b.id))
}

/** Σ revenue (holds defer theirs to the entry that closes them) and Σ cost of `entries`. */
const totals = (entries: Array<typeof ledgerEntries.$inferSelect>) => ({
  revenueMicros: entries
    .filter((e) => e.kind !== 'hold')
    .reduce((sum, e) => sum + (e.revenueMicros ?? 0), 0),
  costMicros: entries.reduce((sum, e) => sum + (e.costMicros ?? 0), 0),
  acts: entries.filter((e) => e.costMicros !== null).length,
})

const heavy = () => userOf(stack.sandbox, HEAVY)
const balance = () => stack.client.credits.balance.query({ telegramUserId: HEAVY })
/** An answer once its cost is on it (the settle edits it in after delivery). */
const isCostedAnswer = (m: Message) => /\n— [\d,]+ tokens · /.test(m.text ?? '')
const COST_CAP = opening(WORDS.refusals.costCap(null), 4)
const isCostedOrCapped = (m: Message) =>
  isCostedAnswer(m) || (m.text?.startsWith(COST_CAP) ?? false)
/** What the offline model charges for a prompt and an answer of `outputTokens`. */
const promptTokens = (prompt: string) => countTokens(`${SYSTEM_PROMPT}\n${prompt}`)
const costOf = (inputTokens: number, outputTokens: number) =>
  Math.ceil(
    (inputTokens * PRICE.inputPerMillionMicros + outputTokens * PRICE.outputPerMillionMicros) /
      1_000_000,
  )
/** The words as the bot wrote them at `now` (they say how long until the reset). */
function wordsAt(now: number, words: () => string) {
  const clock = vi.spyOn(Date, 'now').mockReturnValue(now)
  try {
    return words()
  } finally {
    clock.mockRestore()
  }
}
const question = (i: number) => `Question ${i}: how do I keep a small team focused?`

/** Sends `text` and waits for the costed answer (or a cost-cap refusal), with its footer read. */
async function ask(text: string) {
  const reply = await heavy().say(text, isCostedOrCapped, 20_000)
  const footer = /\n— ([\d,]+) tokens · (.+)$/.exec(reply.text ?? '')
  const credits = footer ? /^([\d,]+) credits?/.exec(footer[2] ?? '') : null
  return {
    reply,
    tokens: footer ? Number(footer[1]?.replace(/,/g, '')) : null,
    credits: credits ? Number(credits[1]?.replace(/,/g, '')) : 0,
  }
}

let lotValue = 0
const answered: Array<{ prompt: string; tokens: number; credits: number }> = []

describe('margin control through the reference bot (issue 14)', () => {
  it('a heavy user pays for a pack with Stars: the lot is worth the Stars at the USD-per-Star rate', async () => {
    stack.sandbox.createUser({ id: HEAVY, firstName: 'Heavy' })
    await stack.client.customers.upsert.mutate({ telegramUserId: HEAVY, firstName: 'Heavy' })
    // Most of today's free tokens already spent (no cost and no revenue: nothing on the ledger).
    await stack.client.usage.consumeFeature.mutate({
      telegramUserId: HEAVY,
      feature: 'ai.tokens',
      quantity: 5000 - FREE_LEFT,
      idempotencyKey: `margin-e2e-free-${HEAVY}`,
    })
    const menu = await heavy().say('/buy', startsWith(WORDS.buy.menu))
    stack.sandbox.pressButton(HEAVY, menu.message_id, { data: `buy:${FIRST_PACK.key}` })
    const invoice = await heavy().next(menu.message_id, (m) => m.invoice !== undefined)
    const paid = await stack.sandbox.payInvoice(HEAVY, { messageId: invoice.message_id })
    expect(paid.status).toBe('paid')
    await heavy().next(invoice.message_id, startsWith(opening(WORDS.payments.received([], 0), 2)))
    const lots = (await stack.db.select().from(grants)).filter(
      (g) => g.projectId === stack.projectId && g.source !== 'manual' && g.amount > 0,
    )
    expect(lots).toHaveLength(1)
    expect(lots[0]).toMatchObject({ amount: FIRST_PACK.credits })
    lotValue = lots[0]!.valueMicros
    expect(lotValue).toBe(FIRST_PACK.priceStars * DEFAULT_USD_PER_STAR_MICROS)
    expect(await balance()).toMatchObject({ available: FIRST_PACK.credits, held: 0 })
  })

  it('every answer costs money: its entry carries the tokens’ cost and the burned credits’ value', async () => {
    const before = (await projectEntries()).length
    for (let i = 1; i <= 4; i++) {
      const prompt = question(i)
      const { reply, tokens, credits } = await ask(prompt)
      expect(tokens, reply.text).not.toBeNull()
      answered.push({ prompt, tokens: tokens!, credits })
    }
    expect(prompts).toEqual(answered.map((a) => a.prompt))
    // The first answer took the last free tokens: part free, the rest paid.
    const first = answered[0]!
    expect(first.credits).toBe(Math.ceil((first.tokens - FREE_LEFT) / 100))
    expect(answered.every((a) => a.credits > 0)).toBe(true)

    const entries = (await projectEntries()).slice(before)
    const settles = entries.filter((e) => e.kind === 'settle')
    expect(settles).toHaveLength(answered.length)
    const perCredit = lotValue / FIRST_PACK.credits
    expect(Number.isInteger(perCredit)).toBe(true)
    settles.forEach((entry, i) => {
      const a = answered[i]!
      const input = promptTokens(a.prompt)
      expect(entry.usage).toMatchObject({
        provider: 'e-stars',
        model: 'offline',
        inputTokens: input,
        outputTokens: a.tokens - input,
      })
      expect(entry.costMicros).toBe(costOf(input, a.tokens - input))
      expect(entry.costMicros).toBeGreaterThan(0)
      // Revenue: exactly the credits the footer says were burned, at the paid lot's value.
      expect(entry.revenueMicros).toBe(a.credits * perCredit)
    })
    // Only the settles carry a cost; the holds' value is recognised by their settles.
    expect(entries.filter((e) => e.costMicros !== null)).toHaveLength(settles.length)
    const spentCredits = answered.reduce((sum, a) => sum + a.credits, 0)
    expect(await balance()).toMatchObject({
      available: FIRST_PACK.credits - spentCredits,
      held: 0,
    })
  })

  it('the Margin page shows exactly the ledger: totals, the customer, the model, the feature', async () => {
    const all = totals(await projectEntries())
    const settles = (await projectEntries()).filter((e) => e.kind === 'settle')
    const cost = settles.reduce((sum, e) => sum + (e.costMicros ?? 0), 0)
    const revenue = settles.reduce((sum, e) => sum + (e.revenueMicros ?? 0), 0)
    expect(all).toEqual({ revenueMicros: revenue, costMicros: cost, acts: answered.length })
    expect(cost).toBeGreaterThan(revenue) // the heavy user burns the margin at this price

    const s = await summary()
    expect(s).toMatchObject({
      revenueMicros: revenue,
      costMicros: cost,
      marginMicros: revenue - cost,
      acts: answered.length,
      freeCostMicros: 0,
    })
    expect(s.marginPercent).toBe(Math.round(((revenue - cost) * 10_000) / revenue) / 100)
    // Each breakdown: one row with every act (the rest are entries with neither cost nor
    // revenue, such as the pack's grant), and its rows add up to the totals.
    const expectedRow = { revenueMicros: revenue, costMicros: cost, acts: answered.length }
    for (const [by, key] of [
      ['customer', String(HEAVY)],
      ['model', 'e-stars/offline'],
      ['feature', 'ai.tokens'],
      ['product', FIRST_PACK.key],
      ['day', new Date().toISOString().slice(0, 10)],
    ] as const) {
      const found = await breakdown(by)
      expect(
        found.find((r) => r.key === key),
        by,
      ).toMatchObject({
        ...expectedRow,
        marginMicros: revenue - cost,
      })
      expect(
        found.filter((r) => r.key !== key).every((r) => r.acts === 0 && r.revenueMicros === 0),
        by,
      ).toBe(true)
    }
    expect(await consoleCall<Row[]>('margin.unprofitableCustomers', period())).toEqual([
      expect.objectContaining({ key: String(HEAVY), marginMicros: revenue - cost }),
    ])
  })

  it('a daily cost cap just above the spend: one more answer, then the bot says the cap is reached', async () => {
    const spent = totals(await projectEntries()).costMicros
    // Room for exactly one more answer at its most (the prompt and the full answer cap).
    const next = question(answered.length + 1)
    const room = costOf(promptTokens(next), MAX_TOKENS)
    const capMicros = spent + room
    await consoleCall(
      'margin.addCap',
      {
        projectId: stack.projectId,
        scope: 'customer',
        period: 'day',
        capMicros,
        telegramUserId: HEAVY,
      },
      true,
    )

    const fits = await ask(next)
    expect(fits.tokens, fits.reply.text).not.toBeNull()
    answered.push({ prompt: next, tokens: fits.tokens!, credits: fits.credits })

    const entriesBefore = await projectEntries()
    const balanceBefore = await balance()
    const summaryBefore = await summary()
    const calls = prompts.length
    const refusedPrompt = question(answered.length + 1)
    const sentAt = Date.now()
    const refused = await ask(refusedPrompt)
    const receivedAt = Date.now()

    // The plain cost-cap message, with when it resets: midnight in the project's time zone.
    const [project] = (await stack.db.select().from(projects)).filter(
      (p) => p.id === stack.projectId,
    )
    expect(project?.timeZone).toBe('UTC')
    const today = new Date(sentAt)
    const resetsAt = new Date(
      Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 1),
    ).toISOString()
    expect([
      wordsAt(sentAt, () => WORDS.refusals.costCap(resetsAt)),
      wordsAt(receivedAt, () => WORDS.refusals.costCap(resetsAt)),
    ]).toContain(refused.reply.text)
    expect(refused.reply.text).toContain('they come back at 00:00 UTC (in ')
    expect(refused.tokens).toBeNull()

    // Nothing charged for the refused question: no entry, no hold, same balance, same margin;
    // the model was not called.
    expect(prompts.length).toBe(calls)
    expect(await projectEntries()).toEqual(entriesBefore)
    expect(await balance()).toEqual(balanceBefore)
    expect(await summary()).toEqual(summaryBefore)
    // The cap held: the day's cost is at most the cap, never past it.
    expect(totals(await projectEntries()).costMicros).toBeLessThanOrEqual(capMicros)
    expect(summaryBefore.costMicros).toBeLessThanOrEqual(capMicros)

    // Asking again is refused the same way; still nothing charged.
    const again = await ask(question(99))
    expect(again.reply.text?.startsWith(COST_CAP)).toBe(true)
    expect(prompts.length).toBe(calls)
    expect(await balance()).toEqual(balanceBefore)
  })
})
