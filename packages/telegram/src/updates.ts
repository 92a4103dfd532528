import { z } from 'zod'
import type { BotApi, CallOptions } from './client.ts'
import { MalformedPaymentUpdateError } from './errors.ts'
import {
  type BotSubscriptionUpdated,
  BotSubscriptionUpdatedSchema,
  type Chat,
  ChatSchema,
  type PaidMediaPurchased,
  PaidMediaPurchasedSchema,
  type PreCheckoutQuery,
  PreCheckoutQuerySchema,
  type RefundedPayment,
  RefundedPaymentSchema,
  type StarTransaction,
  type SuccessfulPayment,
  SuccessfulPaymentSchema,
  type User,
  UserSchema,
} from './types.ts'

export type PaymentUpdate =
  | { kind: 'pre_checkout_query'; updateId: number; query: PreCheckoutQuery }
  | {
      kind: 'successful_payment'
      updateId: number
      payment: SuccessfulPayment
      from: User
      chat: Chat
      messageId: number
      date: number
    }
  | {
      kind: 'refunded_payment'
      updateId: number
      refund: RefundedPayment
      from: User
      chat: Chat
      messageId: number
      date: number
    }
  /** Bot API 10.2: the user canceled, re-enabled, or failed to renew a subscription. */
  | { kind: 'subscription'; updateId: number; subscription: BotSubscriptionUpdated }
  /** A paid-media purchase; the Stars themselves are found in getStarTransactions. */
  | { kind: 'purchased_paid_media'; updateId: number; purchase: PaidMediaPurchased }

const int = z.number().int()

const PreCheckoutUpdateSchema = z.object({
  update_id: int,
  pre_checkout_query: PreCheckoutQuerySchema,
})

// Payments happen in private chats and always name the payer, so `from` is required here.
const paymentMessageShape = { message_id: int, date: int, from: UserSchema, chat: ChatSchema }

const SuccessfulPaymentUpdateSchema = z.object({
  update_id: int,
  message: z.object({ ...paymentMessageShape, successful_payment: SuccessfulPaymentSchema }),
})

const RefundedPaymentUpdateSchema = z.object({
  update_id: int,
  message: z.object({ ...paymentMessageShape, refunded_payment: RefundedPaymentSchema }),
})

const SubscriptionUpdateSchema = z.object({
  update_id: int,
  subscription: BotSubscriptionUpdatedSchema,
})

const PurchasedPaidMediaUpdateSchema = z.object({
  update_id: int,
  purchased_paid_media: PaidMediaPurchasedSchema,
})

function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(update)'}: ${issue.message}`)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Picks the payment events out of a raw update (webhook body or getUpdates item).
 * Returns null for anything that is not a payment; throws MalformedPaymentUpdateError when an
 * update carries a payment key but not the documented shape, so money is never silently dropped.
 */
export function parsePaymentUpdate(update: unknown): PaymentUpdate | null {
  if (!isRecord(update)) return null
  const updateId = typeof update.update_id === 'number' ? update.update_id : undefined

  if (update.pre_checkout_query !== undefined) {
    const parsed = PreCheckoutUpdateSchema.safeParse(update)
    if (!parsed.success) {
      throw new MalformedPaymentUpdateError('pre_checkout_query', updateId, issuesOf(parsed.error))
    }
    return {
      kind: 'pre_checkout_query',
      updateId: parsed.data.update_id,
      query: parsed.data.pre_checkout_query,
    }
  }

  if (update.subscription !== undefined) {
    const parsed = SubscriptionUpdateSchema.safeParse(update)
    if (!parsed.success) {
      throw new MalformedPaymentUpdateError('subscription', updateId, issuesOf(parsed.error))
    }
    return {
      kind: 'subscription',
      updateId: parsed.data.update_id,
      subscription: parsed.data.subscription,
    }
  }

  if (update.purchased_paid_media !== undefined) {
    const parsed = PurchasedPaidMediaUpdateSchema.safeParse(update)
    if (!parsed.success) {
      throw new MalformedPaymentUpdateError(
        'purchased_paid_media',
        updateId,
        issuesOf(parsed.error),
      )
    }
    return {
      kind: 'purchased_paid_media',
      updateId: parsed.data.update_id,
      purchase: parsed.data.purchased_paid_media,
    }
  }

  const message = update.message
  if (!isRecord(message)) return null

  if (message.successful_payment !== undefined) {
    const parsed = SuccessfulPaymentUpdateSchema.safeParse(update)
    if (!parsed.success) {
      throw new MalformedPaymentUpdateError('successful_payment', updateId, issuesOf(parsed.error))
    }
    const m = parsed.data.message
    return {
      kind: 'successful_payment',
      updateId: parsed.data.update_id,
      payment: m.successful_payment,
      from: m.from,
      chat: m.chat,
      messageId: m.message_id,
      date: m.date,
    }
  }

  if (message.refunded_payment !== undefined) {
    const parsed = RefundedPaymentUpdateSchema.safeParse(update)
    if (!parsed.success) {
      throw new MalformedPaymentUpdateError('refunded_payment', updateId, issuesOf(parsed.error))
    }
    const m = parsed.data.message
    return {
      kind: 'refunded_payment',
      updateId: parsed.data.update_id,
      refund: m.refunded_payment,
      from: m.from,
      chat: m.chat,
      messageId: m.message_id,
      date: m.date,
    }
  }

  return null
}

export type StarTransactionKind = 'charge' | 'refund' | 'other'

/** Transaction types of a user paying the bot; older servers omit the field. */
const PAYMENT_TYPES = new Set<string | undefined>([
  undefined,
  'invoice_payment',
  'paid_media_payment',
])

/**
 * A user's payment has the user under `source`; its refund is a row with the same id and the
 * user under `receiver`. Stars the bot sends a user for anything else (a gift, Premium, a
 * business transfer), withdrawals, ads and the rest are 'other'.
 */
export function starTransactionKind(tx: StarTransaction): StarTransactionKind {
  const kind =
    tx.source?.type === 'user' ? 'charge' : tx.receiver?.type === 'user' ? 'refund' : null
  if (!kind) return 'other'
  const partner = (kind === 'charge' ? tx.source : tx.receiver) as { transaction_type?: string }
  return PAYMENT_TYPES.has(partner.transaction_type) ? kind : 'other'
}

export interface AllStarTransactionsOptions {
  /** 1–100; default 100. */
  pageSize?: number
  callOptions?: CallOptions
}

/**
 * Every Star transaction, page by page (offset += page length) until a page comes back short.
 * Yields rows in Telegram's order, whichever end offset 0 starts at: match by id, not position.
 * Rows arriving mid-scan can shift pages; a row already yielded (same id and direction) is
 * skipped, so one scan never yields a charge or a refund twice.
 */
export async function* allStarTransactions(
  api: Pick<BotApi, 'getStarTransactions'>,
  options: AllStarTransactionsOptions = {},
): AsyncGenerator<StarTransaction, void, undefined> {
  const pageSize = options.pageSize ?? 100
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
    throw new RangeError(`allStarTransactions: pageSize must be 1–100, got ${pageSize}`)
  }
  const seen = new Set<string>()
  let offset = 0
  for (;;) {
    const { transactions } = await api.getStarTransactions(
      { offset, limit: pageSize },
      options.callOptions,
    )
    for (const tx of transactions) {
      const key = `${starTransactionKind(tx)}:${tx.source ? 'in' : tx.receiver ? 'out' : '-'}:${tx.id}`
      if (seen.has(key)) continue
      seen.add(key)
      yield tx
    }
    if (transactions.length < pageSize) return
    offset += transactions.length
  }
}
