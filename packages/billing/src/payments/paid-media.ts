import { type Executor, orders } from '@e-stars/db'
import { and, eq } from 'drizzle-orm'
import { getProduct, type PaidMediaItem } from '../catalog/products.ts'
import { CustomerBlocked, InvalidInput, ProductUnavailable } from '../errors.ts'
import type { Secrets } from '../identity/secrets.ts'
import { type TelegramProfile, upsertAndLockCustomer } from '../ledger/customers.ts'
import { transact } from '../ledger/transaction.ts'
import { DEFAULT_ORDER_TTL_SECONDS } from './orders.ts'
import {
  type PayerInput,
  type PaymentChannel,
  type PaymentOutcome,
  paidMediaChargeId,
  recordPayment,
} from './payments.ts'
import { emitEvent } from './subscriptions.ts'

/** `sendPaidMedia`'s parameters as e-Stars sends them (Bot API names). */
export interface SendPaidMediaParams {
  chat_id: number
  star_count: number
  media: PaidMediaItem[]
  payload: string
}

export interface PaidMediaOffer {
  orderId: string
  productKey: string
  priceStars: number
  payload: string
  expiresAt: string
  /** The message `sendPaidMedia` returned. */
  messageId: number | null
}

/**
 * Offers a paid-media product to a customer: an order (a snapshot of price and grants, like an
 * invoice's) whose signed reference is the post's `payload`, then `sendPaidMedia` with the
 * product's media and price — the Telegram call after the order commits. A failed send cancels
 * the order.
 */
export async function sendPaidMediaProduct(
  db: Executor,
  input: {
    projectId: string
    telegramUserId: number
    productKey: string
    secrets: Secrets
    sendPaidMedia: (params: SendPaidMediaParams) => Promise<{ message_id: number }>
    profile?: TelegramProfile | undefined
    now?: Date | undefined
  },
): Promise<PaidMediaOffer> {
  const now = input.now ?? new Date()
  const order = await transact(db, async (tx) => {
    const product = await getProduct(tx, input.projectId, input.productKey)
    if (product.kind !== 'paid_media')
      throw new InvalidInput('productKey', `${product.key} is a ${product.kind}, not paid media`)
    if (product.archivedAt) throw new ProductUnavailable(product.key, 'archived')
    const customer = await upsertAndLockCustomer(
      tx,
      input.projectId,
      input.telegramUserId,
      input.profile,
    )
    if (customer.blockedAt) throw new CustomerBlocked(input.telegramUserId)
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
        expiresAt: new Date(now.getTime() + DEFAULT_ORDER_TTL_SECONDS * 1000),
        createdAt: now,
      })
      .returning({ id: orders.id, expiresAt: orders.expiresAt })
    return { ...row!, product }
  })
  const payload = input.secrets.signOrderRef(input.projectId, order.id)
  let message: { message_id: number }
  try {
    message = await input.sendPaidMedia({
      chat_id: input.telegramUserId,
      star_count: order.product.priceStars,
      media: order.product.media ?? [],
      payload,
    })
  } catch (error) {
    await db
      .update(orders)
      .set({ status: 'cancelled' })
      .where(and(eq(orders.projectId, input.projectId), eq(orders.id, order.id)))
    throw error
  }
  return {
    orderId: order.id,
    productKey: order.product.key,
    priceStars: order.product.priceStars,
    payload,
    expiresAt: order.expiresAt.toISOString(),
    messageId: message.message_id,
  }
}

/** `Update.purchased_paid_media` (Bot API names). */
export interface PaidMediaPurchaseInput {
  from: PayerInput
  paid_media_payload: string
}

export type PaidMediaPurchaseOutcome =
  | { result: 'recorded'; flag: null; payment: PaymentOutcome }
  | { result: 'flagged'; flag: 'unknown_payload' | 'not_paid_media'; payment: null }

/**
 * Records a paid-media purchase from its update, exactly once per post: the update has no charge
 * id, so the payment is stored under the order's provisional id until reconciliation finds the
 * real charge (`recordPayment` merges the two). A payload that is not one of our paid-media
 * orders is stored as a flagged `paid_media.purchase_unmatched` event, never dropped;
 * reconciliation records the charge itself when Telegram lists it.
 */
export async function recordPaidMediaPurchase(
  db: Executor,
  input: {
    projectId: string
    purchase: PaidMediaPurchaseInput
    secrets: Secrets
    via: PaymentChannel
    updateId?: number | undefined
    now?: Date | undefined
  },
): Promise<PaidMediaPurchaseOutcome> {
  const ref = input.secrets.verifyOrderRef(input.projectId, input.purchase.paid_media_payload)
  const order = ref.ok
    ? (
        await db
          .select({ kind: orders.kind, priceStars: orders.priceStars })
          .from(orders)
          .where(and(eq(orders.projectId, input.projectId), eq(orders.id, ref.orderId)))
      )[0]
    : undefined
  if (!ref.ok || !order || order.kind !== 'paid_media') {
    const flag = !ref.ok || !order ? 'unknown_payload' : 'not_paid_media'
    await transact(db, (tx) =>
      emitEvent(tx, {
        projectId: input.projectId,
        customerId: null,
        type: 'paid_media.purchase_unmatched',
        payload: {
          flag,
          updateId: input.updateId ?? null,
          telegramUserId: input.purchase.from.id,
          paidMediaPayload: input.purchase.paid_media_payload,
        },
      }),
    )
    return { result: 'flagged', flag, payment: null }
  }
  const outcome = await recordPayment(db, {
    projectId: input.projectId,
    secrets: input.secrets,
    via: input.via,
    now: input.now,
    from: input.purchase.from,
    payment: {
      currency: 'XTR',
      total_amount: order.priceStars,
      invoice_payload: input.purchase.paid_media_payload,
      telegram_payment_charge_id: paidMediaChargeId(ref.orderId),
    },
    stars: {
      transactionType: 'paid_media_payment',
      grossNanostars: order.priceStars * 1_000_000_000,
      commissionNanostars: 0,
      affiliate: null,
    },
  })
  return { result: 'recorded', flag: null, payment: outcome }
}
