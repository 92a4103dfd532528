import { type Executor, orders, rows } from '@e-stars/db'
import {
  type StarsInvoiceFields,
  type StarsSubscriptionLinkParams,
  starsInvoice,
} from '@e-stars/telegram'
import { and, eq, sql } from 'drizzle-orm'
import { getProduct } from '../catalog/products.ts'
import { CustomerBlocked, InvalidInput, ProductUnavailable } from '../errors.ts'
import type { Secrets } from '../identity/secrets.ts'
import { type TelegramProfile, upsertAndLockCustomer } from '../ledger/customers.ts'
import { transact } from '../ledger/transaction.ts'

export const DEFAULT_ORDER_TTL_SECONDS = 24 * 60 * 60

export interface CreateInvoiceInput {
  projectId: string
  telegramUserId: number
  productKey: string
  secrets: Secrets
  profile?: TelegramProfile | undefined
  /** How long the invoice can be paid; default 24 h. */
  ttlSeconds?: number | undefined
  /** Makes the subscription invoice link through the project's bot (Telegram I/O stays outside). */
  createInvoiceLink?: ((params: StarsSubscriptionLinkParams) => Promise<string>) | undefined
  now?: Date | undefined
}

export interface Invoice {
  orderId: string
  productKey: string
  kind: 'pack' | 'unlock' | 'subscription'
  priceStars: number
  /** ISO-8601; after it, pre-checkout refuses the order. */
  expiresAt: string
  /** The signed order reference Telegram carries as `invoice_payload`. */
  payload: string
  /** Ready `sendInvoice` parameters (packs and unlocks); null for subscriptions. */
  sendInvoice: (StarsInvoiceFields & { chat_id: number }) | null
  /** Subscriptions: the `createInvoiceLink` result to open or send. */
  invoiceLink: string | null
}

/**
 * Issues an order: a snapshot of the product's price and grants for one customer, valid for
 * `ttlSeconds`. Later price changes never touch it. Subscriptions also get an invoice link
 * (`subscription_period` 30 days), made with `createInvoiceLink`.
 */
export async function createInvoice(db: Executor, input: CreateInvoiceInput): Promise<Invoice> {
  const now = input.now ?? new Date()
  const ttl = input.ttlSeconds ?? DEFAULT_ORDER_TTL_SECONDS
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > 30 * 86_400)
    throw new InvalidInput('ttlSeconds', 'must be 60 s – 30 days')
  const order = await transact(db, async (tx) => {
    const product = await getProduct(tx, input.projectId, input.productKey)
    if (product.archivedAt) throw new ProductUnavailable(product.key, 'archived')
    if (product.kind === 'paid_media')
      throw new InvalidInput('productKey', 'paid media is sent with sendPaidMedia, not an invoice')
    const customer = await upsertAndLockCustomer(
      tx,
      input.projectId,
      input.telegramUserId,
      input.profile,
    )
    if (customer.blockedAt) throw new CustomerBlocked(input.telegramUserId)
    if (product.kind === 'unlock' && product.durationDays === null && product.featureKey) {
      if (await ownsForLife(tx, input.projectId, customer.id, product.featureKey, now))
        throw new ProductUnavailable(product.key, 'already_owned')
    }
    const [row] = await tx
      .insert(orders)
      .values({
        projectId: input.projectId,
        customerId: customer.id,
        productId: product.id,
        productKey: product.key,
        kind: product.kind,
        title: product.title,
        priceStars: product.priceStars,
        credits: product.credits,
        creditsExpireDays: product.creditsExpireDays,
        featureKey: product.featureKey,
        durationDays: product.durationDays,
        expiresAt: new Date(now.getTime() + ttl * 1000),
        createdAt: now,
      })
      .returning({ id: orders.id, expiresAt: orders.expiresAt })
    return { ...row!, product }
  })
  const payload = input.secrets.signOrderRef(input.projectId, order.id)
  const terms = {
    title: order.product.title,
    description: order.product.description,
    payload,
    amount: order.product.priceStars,
  }
  const base = {
    orderId: order.id,
    productKey: order.product.key,
    // Paid media was refused above: it is sent with sendPaidMedia.
    kind: order.product.kind as Invoice['kind'],
    priceStars: order.product.priceStars,
    expiresAt: order.expiresAt.toISOString(),
    payload,
  }
  if (order.product.kind !== 'subscription')
    return {
      ...base,
      sendInvoice: { chat_id: input.telegramUserId, ...starsInvoice(terms) },
      invoiceLink: null,
    }
  if (!input.createInvoiceLink)
    throw new InvalidInput('productKey', 'a subscription needs the project bot to make its link')
  let link: string
  try {
    link = await input.createInvoiceLink(starsInvoice({ ...terms, subscription: true }))
  } catch (error) {
    await db
      .update(orders)
      .set({ status: 'cancelled' })
      .where(and(eq(orders.projectId, input.projectId), eq(orders.id, order.id)))
    throw error
  }
  await db
    .update(orders)
    .set({ invoiceLink: link })
    .where(and(eq(orders.projectId, input.projectId), eq(orders.id, order.id)))
  return { ...base, sendInvoice: null, invoiceLink: link }
}

/** Whether the customer holds a lifetime, unrevoked entitlement to `featureKey`. */
export async function ownsForLife(
  db: Executor,
  projectId: string,
  customerId: number,
  featureKey: string,
  now: Date,
): Promise<boolean> {
  const [row] = await rows<{ owned: boolean }>(
    db,
    sql`select exists(select 1 from entitlements where project_id = ${projectId}
          and customer_id = ${customerId} and feature_key = ${featureKey} and ends_at is null
          and revoked_at is null and starts_at <= ${now.toISOString()}::timestamptz) as owned`,
  )
  return Boolean(row?.owned)
}
