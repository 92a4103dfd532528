import { randomBytes, randomUUID } from 'node:crypto'
import {
  consume,
  createInvoice,
  grantCredits,
  listProducts,
  recordPayment,
  type Secrets,
} from '@e-stars/billing'
import type { Db } from '@e-stars/db'

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

const DAY = 86_400_000

/**
 * A little history for the demo project, so a newcomer's console is not empty: customers who
 * bought packs over the last two weeks (charge ids `demo_…`: Telegram never saw them, so
 * reconciliation against a real or sandbox bot flags them, and a refund is refused by Telegram —
 * pay from the Sandbox page for a refundable one), spent credits on AI answers, got a bonus.
 */
export async function seedDemoData(
  db: Db,
  input: { projectId: string; secrets: Secrets; now?: Date },
): Promise<{ customers: number; payments: number }> {
  const now = input.now ?? new Date()
  const packs = (await listProducts(db, { projectId: input.projectId })).filter(
    (p) => p.kind === 'pack',
  )
  if (packs.length === 0) return { customers: 0, payments: 0 }
  let payments = 0
  for (const [i, customer] of DEMO_CUSTOMERS.entries()) {
    const purchases = 1 + (i % 3)
    for (let k = 0; k < purchases; k++) {
      const pack = packs[(i + k) % packs.length]!
      const paidAt = new Date(now.getTime() - ((i * 5 + k * 3) % 14) * DAY - k * 3_600_000)
      const invoice = await createInvoice(db, {
        projectId: input.projectId,
        telegramUserId: customer.id,
        productKey: pack.key,
        secrets: input.secrets,
        now: paidAt,
      })
      await recordPayment(db, {
        projectId: input.projectId,
        payment: {
          currency: 'XTR',
          total_amount: invoice.priceStars,
          invoice_payload: invoice.payload,
          telegram_payment_charge_id: `demo_${randomBytes(9).toString('base64url')}`,
        },
        from: customer,
        secrets: input.secrets,
        via: 'api',
        paidAt,
        now: paidAt,
      })
      payments++
    }
    for (let k = 0; k < 2 + (i % 4); k++) {
      const tokens = 800 + ((i * 997 + k * 613) % 9000)
      await consume(db, {
        projectId: input.projectId,
        telegramUserId: customer.id,
        amount: Math.max(1, Math.round(tokens / 100)),
        reason: 'AI answer',
        actor: 'api-key:demo',
        idempotencyKey: randomUUID(),
        metadata: { tokens },
      }).catch(() => {})
    }
  }
  await grantCredits(db, {
    projectId: input.projectId,
    telegramUserId: DEMO_CUSTOMERS[0]!.id,
    amount: 100,
    reason: 'Welcome bonus',
    source: 'promo',
    actor: 'system',
    idempotencyKey: randomUUID(),
    expiresAt: new Date(now.getTime() + 30 * DAY),
  })
  return { customers: DEMO_CUSTOMERS.length, payments }
}
