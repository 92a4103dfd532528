import { z } from 'zod'
import { cursor, limit, reason, telegramUserId, wholeNumber } from './inputs.ts'
import { catalogKey, languageCode, line, personName, telegramId, username } from './text.ts'

/** Telegram's `User`, as the bot received it (unknown fields are dropped). */
export const telegramUser = z.object({
  id: telegramUserId,
  is_bot: z.boolean().optional(),
  first_name: personName.optional(),
  last_name: personName.optional(),
  username: username.optional(),
  language_code: languageCode.optional(),
})

const stars = wholeNumber(1, 1_000_000)
const chargeId = telegramId
const payload = line(4096)
const currency = line(8, { min: 1 })
/** Unix seconds, up to the last second of year 9999. */
const unixTime = wholeNumber(1, 253_402_300_799)

export const createInvoiceInput = z.object({
  telegramUserId,
  productKey: catalogKey,
  /** The buyer's profile, stored on the customer. */
  username: username.nullish(),
  firstName: personName.nullish(),
  lastName: personName.nullish(),
  languageCode: languageCode.nullish(),
  ttlSeconds: wholeNumber(60, 30 * 86_400).optional(),
})

/** Telegram's `pre_checkout_query`, passed as received. */
export const preCheckoutQuery = z.object({
  id: telegramId,
  from: telegramUser,
  currency,
  total_amount: stars,
  invoice_payload: payload,
})

/** Telegram's `successful_payment`, passed as received. */
export const successfulPayment = z.object({
  currency,
  total_amount: stars,
  invoice_payload: payload,
  telegram_payment_charge_id: chargeId,
  provider_payment_charge_id: line(256).optional(),
  subscription_expiration_date: unixTime.optional(),
  is_recurring: z.boolean().optional(),
  is_first_recurring: z.boolean().optional(),
})

/** Telegram's `refunded_payment`, passed as received. */
export const refundedPayment = z.object({
  currency,
  total_amount: stars,
  invoice_payload: payload,
  telegram_payment_charge_id: chargeId,
  provider_payment_charge_id: line(256).optional(),
})

export const recordPaymentInput = z.object({ successfulPayment, from: telegramUser })
export const recordRefundInput = z.object({ refundedPayment, from: telegramUser })
export const refundInput = z.object({ telegramPaymentChargeId: chargeId, reason })
export const paymentRef = z.object({ telegramPaymentChargeId: chargeId })
export const listPaymentsInput = z.object({
  telegramUserId: telegramUserId.optional(),
  status: z.enum(['paid', 'refunded', 'unmatched']).optional(),
  flagged: z.boolean().optional(),
  cursor,
  limit: limit(200, 50),
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
  limit: limit(200, 50),
})
export const runsInput = z.object({ limit: limit(100, 20) })
