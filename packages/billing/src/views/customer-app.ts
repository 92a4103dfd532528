import { type Db, type Executor, orders } from '@e-stars/db'
import type { CreateInvoiceLinkParams } from '@e-stars/telegram'
import { and, eq } from 'drizzle-orm'
import { listProducts } from '../catalog/products.ts'
import { BillingError, FeatureNotClientConsumable, NotFound } from '../errors.ts'
import type { Secrets } from '../identity/secrets.ts'
import { createInvoice } from '../payments/orders.ts'
import { telegramFailure } from '../payments/refunds.ts'
import { listEntitlements } from '../usage/entitlements.ts'
import { type ConsumeFeatureResult, checkAccess, consumeFeature } from '../usage/feature-usage.ts'
import { defineFeature, findFeature, listFeatures } from '../usage/features.ts'
import { actorName, listTimeline } from './timeline.ts'

/**
 * What a Mini App front end may read and do as its signed-in user (`me.*`). Every function takes
 * the project and customer from the customer session, never from the caller's input.
 */
export interface CustomerScope {
  projectId: string
  customerId: number
  telegramUserId: number
}

/** The operator a customer reads about is "support", never their address. */
const SUPPORT = 'support'

/** The customer's entitlements in force (or starting later), with the feature's display name. */
export async function customerEntitlements(db: Executor, scope: CustomerScope, now = new Date()) {
  const [list, features] = await Promise.all([
    listEntitlements(db, scope.projectId, scope.customerId, now),
    listFeatures(db, { projectId: scope.projectId, includeArchived: true }),
  ])
  const names = new Map(features.map((f) => [f.key, f.name]))
  return list.map((e) => ({
    featureKey: e.featureKey,
    featureName: names.get(e.featureKey) ?? e.featureKey,
    source: e.source,
    startsAt: e.startsAt,
    /** null: for life. */
    endsAt: e.endsAt,
    active: e.active,
  }))
}

/**
 * Per live feature, the cap that binds the customer now (the tightest) and the free allowance, with
 * usage and reset time: what `access.check` answers, without a quantity.
 */
export async function customerQuotas(db: Db, scope: CustomerScope, now = new Date()) {
  const features = await listFeatures(db, { projectId: scope.projectId })
  const answers = await Promise.all(
    features.map((feature) =>
      checkAccess(db, {
        projectId: scope.projectId,
        telegramUserId: scope.telegramUserId,
        feature: feature.key,
        now,
      }).then((answer) => ({ feature, answer })),
    ),
  )
  return answers.flatMap(({ feature, answer }) =>
    [
      { free: true, view: answer.freeAllowance },
      { free: false, view: answer.quota },
    ].flatMap(({ free, view }) =>
      view
        ? [
            {
              featureKey: feature.key,
              featureName: feature.name,
              /** true: free units used before credits; false: a cap. */
              free,
              limit: view.limit,
              used: view.used,
              remaining: view.remaining,
              period: view.period,
              window: view.window,
              /** Calendar: the window's end. Rolling: when the oldest counted use leaves it. */
              resetsAt: view.resetsAt,
            },
          ]
        : [],
    ),
  )
}

/** The customer's latest ledger entries in plain words (the console's wording). */
export async function customerActivity(
  db: Executor,
  scope: CustomerScope,
  input: { limit?: number | undefined } = {},
) {
  const page = await listTimeline(db, {
    projectId: scope.projectId,
    telegramUserId: scope.telegramUserId,
    limit: input.limit ?? 20,
  })
  return page.entries.map((e) => ({
    id: e.id,
    kind: e.kind,
    text: e.actor.startsWith('operator:')
      ? e.text.replaceAll(`by ${actorName(e.actor)}`, `by ${SUPPORT}`)
      : e.text,
    change: e.change,
    tone: e.tone,
    availableAfter: e.availableAfter,
    createdAt: e.createdAt,
  }))
}

/** The catalog on sale, in display order, as a customer sees it. */
export async function customerCatalog(db: Executor, scope: Pick<CustomerScope, 'projectId'>) {
  const list = await listProducts(db, { projectId: scope.projectId })
  return list.map((p) => ({
    key: p.key,
    kind: p.kind,
    title: p.title,
    description: p.description,
    priceStars: p.priceStars,
    credits: p.credits,
    creditsExpireDays: p.creditsExpireDays,
    featureKey: p.featureKey,
    /** Unlocks: days of access (null: for life). Subscriptions renew every 30 days. */
    durationDays: p.durationDays,
  }))
}

export interface BuyAsCustomerInput extends CustomerScope {
  productKey: string
  secrets: Secrets
  /** The project bot's createInvoiceLink (Telegram I/O stays outside the engine). */
  createInvoiceLink: (params: CreateInvoiceLinkParams) => Promise<string>
  ttlSeconds?: number | undefined
  now?: Date | undefined
}

export interface MiniAppInvoice {
  orderId: string
  productKey: string
  kind: 'pack' | 'unlock' | 'subscription'
  priceStars: number
  expiresAt: string
  /** For `Telegram.WebApp.openInvoice(url, callback)`. */
  invoiceLink: string
}

/**
 * Issues an order for the signed-in customer and an invoice link for `openInvoice`: packs and
 * unlocks get a one-time link, subscriptions a 30-day subscription link. Pre-checkout and the
 * payment then flow through the bot (or the relay) as for any other invoice.
 */
export async function buyAsCustomer(db: Db, input: BuyAsCustomerInput): Promise<MiniAppInvoice> {
  const makeLink = async (params: CreateInvoiceLinkParams) => {
    try {
      return await input.createInvoiceLink(params)
    } catch (error) {
      throw error instanceof BillingError ? error : telegramFailure('createInvoiceLink', error)
    }
  }
  const invoice = await createInvoice(db, {
    projectId: input.projectId,
    telegramUserId: input.telegramUserId,
    productKey: input.productKey,
    secrets: input.secrets,
    ttlSeconds: input.ttlSeconds,
    createInvoiceLink: makeLink,
    now: input.now,
  })
  const base = {
    orderId: invoice.orderId,
    productKey: invoice.productKey,
    kind: invoice.kind,
    priceStars: invoice.priceStars,
    expiresAt: invoice.expiresAt,
  }
  if (invoice.invoiceLink) return { ...base, invoiceLink: invoice.invoiceLink }
  const { chat_id: _chat, ...fields } = invoice.sendInvoice!
  const inOrder = and(eq(orders.projectId, input.projectId), eq(orders.id, invoice.orderId))
  let link: string
  try {
    link = await makeLink(fields)
  } catch (error) {
    await db.update(orders).set({ status: 'cancelled' }).where(inOrder)
    throw error
  }
  await db.update(orders).set({ invoiceLink: link }).where(inOrder)
  return { ...base, invoiceLink: link }
}

export interface ConsumeAsCustomerInput extends CustomerScope {
  feature: string
  quantity: number
  idempotencyKey: string
  reason?: string | undefined
  now?: Date | undefined
}

/**
 * Consumption from the Mini App itself, only for features marked `clientConsumable` (off by
 * default: a client can be scripted, so usage whose cost the backend knows stays there). The same
 * engine call as the bot's, so quotas, entitlements and balance hold exactly as for it.
 */
export async function consumeAsCustomer(
  db: Db,
  input: ConsumeAsCustomerInput,
): Promise<ConsumeFeatureResult> {
  const feature = await findFeature(db, input.projectId, input.feature)
  if (!feature) throw new NotFound('Feature', input.feature)
  if (!feature.clientConsumable) throw new FeatureNotClientConsumable(feature.key)
  return consumeFeature(db, {
    projectId: input.projectId,
    telegramUserId: input.telegramUserId,
    feature: feature.key,
    quantity: input.quantity,
    // Scoped to the customer, so two users' keys never collide and one cannot replay another's.
    idempotencyKey: `miniapp:${input.telegramUserId}:${input.idempotencyKey}`,
    actor: `miniapp:${input.telegramUserId}`,
    reason: input.reason,
    now: input.now,
  })
}

/**
 * The reference Mini App's metered action: `wallpaper`, 10 credits each, consumable by the Mini
 * App itself (it makes the wallpaper on the device, so the client knows the cost). Safe to rerun.
 */
export async function seedMiniAppFeatures(db: Executor, projectId: string) {
  return defineFeature(db, {
    projectId,
    key: 'wallpaper',
    name: 'Wallpaper',
    kind: 'metered',
    credits: 10,
    clientConsumable: true,
  })
}
