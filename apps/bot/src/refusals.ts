import { billingErrorOf } from '@e-stars/api/client'
import { Markup } from 'telegraf'
import type { BotContext } from './context.ts'
import type { Product } from './on-sale.ts'
import { buyButton } from './on-sale.ts'
import { WORDS } from './wording.ts'

/** Key of a limit in `ctx.told`: the user heard about this window of this feature. */
export const toldKey = (userId: number, feature: string, resetsAt: unknown) =>
  `${userId}:${feature}:${String(resetsAt)}`

/** Refusals this close together are one burst: the first gets the invoice, the rest point at it. */
export const REFUSAL_BURST_MS = 60_000

/** True when this refusal starts a burst (no invoice sent to the user within the window). */
function startsBurst(ctx: BotContext, userId: number, now = Date.now()): boolean {
  const last = ctx.invoicesSent.get(userId)
  if (last !== undefined && now - last < REFUSAL_BURST_MS) return false
  if (ctx.invoicesSent.size > 50_000) ctx.invoicesSent.clear()
  ctx.invoicesSent.set(userId, now)
  return true
}

/**
 * The product on sale whose own quota for `feature` is the highest (Plus: 200 images a day), so
 * the upsell can say by how much it raises the limit. Null when none raises it, or unknown.
 */
async function raisedLimit(ctx: BotContext, feature: string, products: Product[]) {
  const quotas = await ctx.billing.client.features.quotas
    .query({ featureKey: feature })
    .catch(() => [])
  let best: { product: Product; limit: number; period: string } | null = null
  for (const q of quotas) {
    const product = products.find((p) => p.key === q.productKey)
    if (q.scope !== 'product' || !product || q.free) continue
    if (!best || Number(q.limit) > best.limit)
      best = { product, limit: Number(q.limit), period: q.period }
  }
  return best
}

/**
 * Explains an e-Stars refusal to the user in plain words with the next step (a one-tap invoice
 * for the pack that covers it, when and how a limit resets). Returns false for any other error.
 */
export async function explainRefusal(ctx: BotContext, error: unknown, what: string) {
  const facts = billingErrorOf(error)
  if (!facts) return false
  switch (facts.code) {
    case 'INSUFFICIENT_CREDITS': {
      const required = Number(facts.required)
      const available = Number(facts.available)
      const freeBack =
        typeof facts.freeAllowanceResetsAt === 'string' ? facts.freeAllowanceResetsAt : null
      const pack = await ctx.catalog.packFor(required - available)
      const invoice = pack !== null && (!ctx.from || startsBurst(ctx, ctx.from.id))
      await ctx.reply(
        WORDS.refusals.notEnough(what, required, available, freeBack) +
          (pack === null ? '' : invoice ? WORDS.refusals.topUp : WORDS.refusals.topUpAbove),
      )
      if (pack && invoice) await ctx.billing.sendInvoice(pack.key)
      return true
    }
    case 'QUOTA_EXCEEDED': {
      const feature = String(facts.feature)
      if (ctx.from) ctx.told.add(toldKey(ctx.from.id, feature, facts.resetsAt))
      const products = await ctx.catalog.products()
      const raised = await raisedLimit(ctx, feature, products)
      const upgrade = raised?.product ?? products.find((p) => p.kind === 'subscription')
      await ctx.reply(
        WORDS.refusals.quota(
          what,
          Number(facts.limit),
          String(facts.period),
          (facts.resetsAt as string | null) ?? null,
        ) +
          (raised
            ? WORDS.refusals.raises(raised.product.title, raised.limit, raised.period)
            : upgrade
              ? WORDS.refusals.upgrade(upgrade.title, upgrade.description)
              : ''),
        upgrade ? Markup.inlineKeyboard([buyButton(upgrade)]) : {},
      )
      return true
    }
    case 'NO_ENTITLEMENT':
      await ctx.reply(WORDS.refusals.noEntitlement(String(facts.feature)))
      return true
    case 'MARGIN_FLOOR_BREACHED':
      await ctx.reply(WORDS.refusals.marginFloor)
      return true
    case 'UNPRICED_MODEL':
      await ctx.reply(WORDS.refusals.unpricedModel)
      return true
    case 'COST_CAP_REACHED':
      await ctx.reply(
        WORDS.refusals.costCap(typeof facts.resetsAt === 'string' ? facts.resetsAt : null),
      )
      return true
    case 'CUSTOMER_BLOCKED':
      await ctx.reply(WORDS.refusals.blocked)
      return true
    default:
      return false
  }
}
