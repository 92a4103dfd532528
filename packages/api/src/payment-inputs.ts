import { z } from 'zod'
import { reason, telegramUserId } from './inputs.ts'

/** Telegram's `User`, as the bot received it (unknown fields are dropped). */
export const telegramUser = z.object({
  id: telegramUserId,
  is_bot: z.boolean().optional(),
  first_name: z.string().max(256).optional(),
  last_name: z.string().max(256).optional(),
  username: z.string().max(64).optional(),
  language_code: z.string().max(16).optional(),
})

const stars = z.number().int().positive().max(1_000_000)
const chargeId = z.string().min(1).max(256)
const payload = z.string().max(4096)

export const productKey = z.string().min(1).max(64)

export const createInvoiceInput = z.object({
  telegramUserId,
  productKey,
  /** The buyer's profile, stored on the customer. */
  username: z.string().max(64).nullish(),
  firstName: z.string().max(256).nullish(),
  lastName: z.string().max(256).nullish(),
  languageCode: z.string().max(16).nullish(),
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .optional(),
})

/** Telegram's `pre_checkout_query`, passed as received. */
export const preCheckoutQuery = z.object({
  id: z.string().min(1).max(256),
  from: telegramUser,
  currency: z.string().min(1).max(8),
  total_amount: stars,
  invoice_payload: payload,
})

/** Telegram's `successful_payment`, passed as received. */
export const successfulPayment = z.object({
  currency: z.string().min(1).max(8),
  total_amount: stars,
  invoice_payload: payload,
  telegram_payment_charge_id: chargeId,
  provider_payment_charge_id: z.string().max(256).optional(),
  subscription_expiration_date: z.number().int().positive().optional(),
  is_recurring: z.boolean().optional(),
  is_first_recurring: z.boolean().optional(),
})

/** Telegram's `refunded_payment`, passed as received. */
export const refundedPayment = z.object({
  currency: z.string().min(1).max(8),
  total_amount: stars,
  invoice_payload: payload,
  telegram_payment_charge_id: chargeId,
  provider_payment_charge_id: z.string().max(256).optional(),
})

export const recordPaymentInput = z.object({ successfulPayment, from: telegramUser })
export const recordRefundInput = z.object({ refundedPayment, from: telegramUser })
export const refundInput = z.object({ telegramPaymentChargeId: chargeId, reason })
export const paymentRef = z.object({ telegramPaymentChargeId: chargeId })
export const listPaymentsInput = z.object({
  telegramUserId: telegramUserId.optional(),
  status: z.enum(['paid', 'refunded', 'unmatched']).optional(),
  flagged: z.boolean().optional(),
  cursor: z
    .string()
    .regex(/^\d{1,19}$/)
    .nullish(),
  limit: z.number().int().min(1).max(200).default(50),
})
export const subscriptionsInput = z.object({ telegramUserId })
export const cancelSubscriptionInput = z.object({
  subscriptionId: z.uuid(),
  /** false resumes a canceled subscription. */
  canceled: z.boolean().default(true),
})
export const findingsInput = z.object({
  runId: z.uuid().optional(),
  unresolved: z.boolean().optional(),
  limit: z.number().int().min(1).max(200).default(50),
})
export const runsInput = z.object({ limit: z.number().int().min(1).max(100).default(20) })
