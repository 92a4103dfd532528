import { randomUUID } from 'node:crypto'
import {
  consumeFeature,
  createInvoice,
  grantCredits,
  InsufficientCredits,
  listProducts,
  recordPayment,
  type Secrets,
  setModelPrice,
} from '@e-stars/billing'
import type { Db } from '@e-stars/db'
import type { Env } from './env.ts'

const DEMO_CUSTOMERS = [
  { id: 2_000_001, first_name: 'Alice', username: 'alice' },
  { id: 2_000_002, first_name: 'Bob' },
  { id: 2_000_101, first_name: 'Carol', last_name: 'Danvers', username: 'carol' },
  { id: 2_000_102, first_name: 'Dmitri', username: 'dmitri_k' },
  { id: 2_000_103, first_name: 'Eva', last_name: 'Lund' },
  { id: 2_000_104, first_name: 'Farid', username: 'farid' },
  { id: 2_000_105, first_name: 'Grace', last_name: 'Hopper', username: 'amazing_grace' },
  { id: 2_000_106, first_name: 'Hiro', username: 'hiro' },
]

type DemoCustomer = (typeof DEMO_CUSTOMERS)[number]

const DAY = 86_400_000

/** The Telegram that charged the seeded payments: it names each charge. */
export interface DemoTelegram {
  charge(input: {
    customer: DemoCustomer
    title: string
    payload: string
    amount: number
    paidAt: Date
  }): Promise<string>
}

/**
 * The demo's sandbox Telegram, when the server runs against one: each seeded payment is first a
 * charge in the sandbox's own Stars ledger (its control API, with the run's token), so
 * reconciliation finds every one of them there. Without a sandbox there is nobody to charge.
 */
export function sandboxTelegram(
  env: Pick<Env, 'SANDBOX_URL' | 'SANDBOX_TOKEN'>,
): DemoTelegram | undefined {
  const { SANDBOX_URL: url, SANDBOX_TOKEN: token } = env
  if (!url || !token) return undefined
  return {
    async charge({ customer, title, payload, amount, paidAt }) {
      const response = await fetch(`${url}/sandbox/earlier-charges`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          user: {
            id: customer.id,
            firstName: customer.first_name,
            ...('last_name' in customer ? { lastName: customer.last_name } : {}),
            ...('username' in customer ? { username: customer.username } : {}),
          },
          title,
          payload,
          amount,
          date: Math.floor(paidAt.getTime() / 1000),
        }),
      })
      const body = (await response.json()) as {
        ok: boolean
        result?: { chargeId: string }
        error?: { message: string }
      }
      if (!body.ok || !body.result)
        throw new Error(
          `the sandbox refused a demo charge: ${body.error?.message ?? response.status}`,
        )
      return body.result.chargeId
    },
  }
}

/** Without a Telegram to charge: ids Telegram never saw, which reconciliation rightly flags. */
const unchargedDemoTelegram: DemoTelegram = {
  charge: async () => `demo_${randomUUID().replaceAll('-', '').slice(0, 12)}`,
}

/**
 * A little history for the demo project, so a newcomer's console is not empty: customers who
 * bought packs, spent tokens on AI answers (metered through `ai.tokens`, so the free daily
 * allowance is used first and the quota counts every token) and a welcome bonus. Every act goes
 * through the engine at the moment it is recorded, so the payment, its Telegram charge, its
 * ledger entries, the usage and the quota window all agree on when it happened (the engine
 * dates ledger entries itself: seeding "two weeks ago" would make the charts contradict the
 * ledger). With `telegram` (the sandbox) every charge is one Telegram really made.
 */
export async function seedDemoData(
  db: Db,
  input: { projectId: string; secrets: Secrets; telegram?: DemoTelegram | undefined },
): Promise<{ customers: number; payments: number }> {
  const telegram = input.telegram ?? unchargedDemoTelegram
  const packs = (await listProducts(db, { projectId: input.projectId })).filter(
    (p) => p.kind === 'pack',
  )
  if (packs.length === 0) return { customers: 0, payments: 0 }
  await seedPriceBook(db, input.projectId)
  let payments = 0
  for (const [i, customer] of DEMO_CUSTOMERS.entries()) {
    for (let k = 0; k < 1 + (i % 3); k++) {
      await seedPurchase(db, input, telegram, customer, packs[(i + k) % packs.length]!.key)
      payments++
    }
    for (let k = 0; k < 2 + (i % 4); k++)
      await seedAnswer(db, input.projectId, customer, 800 + ((i * 997 + k * 613) % 9000))
  }
  // The margin story's heavy user: Grace asks long questions of the dear model, every day's
  // allowance and then her credits, and costs more than she paid.
  const heavy = DEMO_CUSTOMERS[6]!
  for (let k = 0; k < 8; k++)
    await seedAnswer(db, input.projectId, heavy, 4_000 + k * 250, HEAVY_MODEL, 2)
  await grantCredits(db, {
    projectId: input.projectId,
    telegramUserId: DEMO_CUSTOMERS[0]!.id,
    amount: 100,
    reason: 'Welcome bonus',
    source: 'promo',
    actor: 'system',
    idempotencyKey: randomUUID(),
    expiresAt: new Date(Date.now() + 30 * DAY),
  })
  return { customers: DEMO_CUSTOMERS.length, payments }
}

/** An invoice, Telegram's charge for it, and the payment recorded: one purchase, now. */
async function seedPurchase(
  db: Db,
  input: { projectId: string; secrets: Secrets },
  telegram: DemoTelegram,
  customer: DemoCustomer,
  productKey: string,
) {
  const invoice = await createInvoice(db, {
    projectId: input.projectId,
    telegramUserId: customer.id,
    productKey,
    secrets: input.secrets,
  })
  const paidAt = new Date()
  const chargeId = await telegram.charge({
    customer,
    title: invoice.sendInvoice?.title ?? productKey,
    payload: invoice.payload,
    amount: invoice.priceStars,
    paidAt,
  })
  await recordPayment(db, {
    projectId: input.projectId,
    payment: {
      currency: 'XTR',
      total_amount: invoice.priceStars,
      invoice_payload: invoice.payload,
      telegram_payment_charge_id: chargeId,
    },
    from: customer,
    secrets: input.secrets,
    via: 'api',
    paidAt,
  })
}

/**
 * The demo's price book (micro-USD per million tokens). `ai.tokens` sells 100 tokens for a
 * credit, about 13 USD per million tokens at a small pack's price: the small model earns its
 * keep, the reasoning model costs more than it sells for (the model "too cheap for its price").
 */
const CHEAP_MODEL = { provider: 'openai', model: 'gpt-4o-mini' }
const HEAVY_MODEL = { provider: 'openai', model: 'o1' }
async function seedPriceBook(db: Db, projectId: string) {
  await setModelPrice(db, {
    projectId,
    ...CHEAP_MODEL,
    inputPerMillionMicros: 150_000,
    outputPerMillionMicros: 600_000,
    updatedBy: 'system',
  })
  await setModelPrice(db, {
    projectId,
    ...HEAVY_MODEL,
    inputPerMillionMicros: 15_000_000,
    outputPerMillionMicros: 60_000_000,
    updatedBy: 'system',
  })
}

/**
 * One AI answer of `tokens` tokens (1/`answerShare` of them the answer: a fifth for a chat model,
 * half for a reasoning one), metered as the bot meters one with its usage record, so the price
 * book prices it; a customer out of credits stops.
 */
async function seedAnswer(
  db: Db,
  projectId: string,
  customer: DemoCustomer,
  tokens: number,
  model = CHEAP_MODEL,
  answerShare = 5,
) {
  const outputTokens = Math.floor(tokens / answerShare)
  await consumeFeature(db, {
    projectId,
    telegramUserId: customer.id,
    feature: 'ai.tokens',
    quantity: tokens,
    reason: 'AI answer',
    actor: 'api-key:demo',
    idempotencyKey: randomUUID(),
    usage: { ...model, inputTokens: tokens - outputTokens, outputTokens },
  }).catch((error: unknown) => {
    if (!(error instanceof InsufficientCredits)) throw error
  })
}
