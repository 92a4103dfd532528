import { z } from 'zod'

// Schemas follow Bot API 10.3 (spec/stars-subset.json). Objects strip unknown fields except
// where noted; partners and messages stay loose because Telegram keeps adding variants.

const int = z.number().int()

export const UserSchema = z.object({
  id: int,
  is_bot: z.boolean(),
  first_name: z.string(),
  last_name: z.string().optional(),
  username: z.string().optional(),
  language_code: z.string().optional(),
  is_premium: z.boolean().optional(),
  added_to_attachment_menu: z.boolean().optional(),
  can_join_groups: z.boolean().optional(),
  can_read_all_group_messages: z.boolean().optional(),
  supports_guest_queries: z.boolean().optional(),
  supports_inline_queries: z.boolean().optional(),
  can_connect_to_business: z.boolean().optional(),
  has_main_web_app: z.boolean().optional(),
  has_topics_enabled: z.boolean().optional(),
  allows_users_to_create_topics: z.boolean().optional(),
  can_manage_bots: z.boolean().optional(),
  supports_join_request_queries: z.boolean().optional(),
})
export type User = z.infer<typeof UserSchema>

export const ChatSchema = z.looseObject({
  id: int,
  type: z.string(),
  title: z.string().optional(),
  username: z.string().optional(),
  first_name: z.string().optional(),
  last_name: z.string().optional(),
})
export type Chat = z.infer<typeof ChatSchema>

const OrderInfoSchema = z.looseObject({
  name: z.string().optional(),
  phone_number: z.string().optional(),
  email: z.string().optional(),
  shipping_address: z.looseObject({}).optional(),
})

export const PreCheckoutQuerySchema = z.object({
  id: z.string().min(1),
  from: UserSchema,
  currency: z.string(),
  total_amount: int,
  invoice_payload: z.string(),
  shipping_option_id: z.string().optional(),
  order_info: OrderInfoSchema.optional(),
})
export type PreCheckoutQuery = z.infer<typeof PreCheckoutQuerySchema>

export const SuccessfulPaymentSchema = z.object({
  currency: z.string(),
  total_amount: int,
  invoice_payload: z.string(),
  /** Unix time the subscription period ends (subscriptions only). */
  subscription_expiration_date: int.optional(),
  /** True on subscription payments, first and renewals (Telegram omits it otherwise). */
  is_recurring: z.boolean().optional(),
  /** True on the first payment of a subscription. */
  is_first_recurring: z.boolean().optional(),
  shipping_option_id: z.string().optional(),
  order_info: OrderInfoSchema.optional(),
  telegram_payment_charge_id: z.string().min(1),
  provider_payment_charge_id: z.string(),
})
export type SuccessfulPayment = z.infer<typeof SuccessfulPaymentSchema>

export const RefundedPaymentSchema = z.object({
  currency: z.string(),
  total_amount: int,
  invoice_payload: z.string(),
  telegram_payment_charge_id: z.string().min(1),
  provider_payment_charge_id: z.string().optional(),
})
export type RefundedPayment = z.infer<typeof RefundedPaymentSchema>

export const StarAmountSchema = z.object({
  amount: int,
  nanostar_amount: int.optional(),
})
export type StarAmount = z.infer<typeof StarAmountSchema>

/** The affiliate's cut of a user's payment; `amount` + `nanostar_amount` (10^-9 Star), negative on refunds. */
export const AffiliateInfoSchema = z.looseObject({
  affiliate_user: UserSchema.optional(),
  affiliate_chat: ChatSchema.optional(),
  commission_per_mille: int,
  amount: int,
  nanostar_amount: int.optional(),
})
export type AffiliateInfo = z.infer<typeof AffiliateInfoSchema>

export const RevenueWithdrawalStateSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('pending') }),
  z.object({ type: z.literal('succeeded'), date: int, url: z.string() }),
  z.object({ type: z.literal('failed') }),
])
export type RevenueWithdrawalState = z.infer<typeof RevenueWithdrawalStateSchema>

/** A withdrawal through Fragment (read these from a partner whose `type` is 'fragment'). */
export const TransactionPartnerFragmentSchema = z.object({
  type: z.literal('fragment'),
  withdrawal_state: RevenueWithdrawalStateSchema.optional(),
})
export type TransactionPartnerFragment = z.infer<typeof TransactionPartnerFragmentSchema>

export const TransactionPartnerAffiliateProgramSchema = z.object({
  type: z.literal('affiliate_program'),
  sponsor_user: UserSchema.optional(),
  commission_per_mille: int,
})
export type TransactionPartnerAffiliateProgram = z.infer<
  typeof TransactionPartnerAffiliateProgramSchema
>

export const TransactionPartnerTelegramAdsSchema = z.object({ type: z.literal('telegram_ads') })
export const TransactionPartnerTelegramApiSchema = z.object({
  type: z.literal('telegram_api'),
  request_count: int,
})
export type TransactionPartnerTelegramApi = z.infer<typeof TransactionPartnerTelegramApiSchema>

export const TransactionPartnerUserSchema = z.looseObject({
  type: z.literal('user'),
  /** invoice_payment, paid_media_payment, gift_purchase, … Required in 10.1, absent in older servers. */
  transaction_type: z.string().optional(),
  user: UserSchema,
  affiliate: AffiliateInfoSchema.optional(),
  invoice_payload: z.string().optional(),
  subscription_period: int.optional(),
  paid_media: z.array(z.unknown()).optional(),
  paid_media_payload: z.string().optional(),
  gift: z.looseObject({}).optional(),
  premium_subscription_duration: int.optional(),
})
export type TransactionPartnerUser = z.infer<typeof TransactionPartnerUserSchema>

/** Fragment, Telegram Ads, affiliate programs, chats, …: kept as received. */
export const TransactionPartnerOtherSchema = z.looseObject({
  type: z
    .string()
    .refine((type) => type !== 'user', 'a user partner must match TransactionPartnerUser'),
})
export type TransactionPartnerOther = z.infer<typeof TransactionPartnerOtherSchema>

export const TransactionPartnerSchema = z.union([
  TransactionPartnerUserSchema,
  TransactionPartnerOtherSchema,
])
export type TransactionPartner = TransactionPartnerUser | TransactionPartnerOther

export function isUserPartner(
  partner: TransactionPartner | undefined,
): partner is TransactionPartnerUser {
  return partner?.type === 'user'
}

export const StarTransactionSchema = z.object({
  /** For a user's payment this is its telegram_payment_charge_id; its refund has the same id. */
  id: z.string(),
  amount: int,
  nanostar_amount: int.optional(),
  date: int,
  source: TransactionPartnerSchema.optional(),
  receiver: TransactionPartnerSchema.optional(),
})
export type StarTransaction = z.infer<typeof StarTransactionSchema>

export const StarTransactionsSchema = z.object({
  transactions: z.array(StarTransactionSchema),
})
export type StarTransactions = z.infer<typeof StarTransactionsSchema>

export const WebhookInfoSchema = z.object({
  url: z.string(),
  has_custom_certificate: z.boolean(),
  pending_update_count: int,
  ip_address: z.string().optional(),
  last_error_date: int.optional(),
  last_error_message: z.string().optional(),
  last_synchronization_error_date: int.optional(),
  max_connections: int.optional(),
  allowed_updates: z.array(z.string()).optional(),
})
export type WebhookInfo = z.infer<typeof WebhookInfoSchema>

/** A plain interface (not `z.infer`) so the invoice types published with @e-stars/client stay free of zod. */
export interface LabeledPrice {
  label: string
  /** In the currency's smallest unit: whole Stars for XTR. */
  amount: number
}
export const LabeledPriceSchema = z.object({ label: z.string(), amount: int })

export const InvoiceSchema = z.looseObject({
  title: z.string(),
  description: z.string(),
  start_parameter: z.string(),
  currency: z.string(),
  total_amount: int,
})
export type Invoice = z.infer<typeof InvoiceSchema>

/** Only the fields the billing code reads; everything else is kept as received. */
export const MessageSchema = z.looseObject({
  message_id: int,
  date: int,
  chat: ChatSchema,
  from: UserSchema.optional(),
  text: z.string().optional(),
  invoice: InvoiceSchema.optional(),
  successful_payment: SuccessfulPaymentSchema.optional(),
  refunded_payment: RefundedPaymentSchema.optional(),
})
export type Message = z.infer<typeof MessageSchema>

/** Bot API 10.2: a user's Stars subscription to the bot changed (`Update.subscription`). */
export const BotSubscriptionUpdatedSchema = z.object({
  user: UserSchema,
  invoice_payload: z.string(),
  /** canceled by the user, active again after a cancel, or the renewal payment failed. */
  state: z.enum(['active', 'canceled', 'failed']),
})
export type BotSubscriptionUpdated = z.infer<typeof BotSubscriptionUpdatedSchema>

/** `Update.purchased_paid_media`: a user bought paid media whose payload was not empty. */
export const PaidMediaPurchasedSchema = z.object({
  from: UserSchema,
  paid_media_payload: z.string(),
})
export type PaidMediaPurchased = z.infer<typeof PaidMediaPurchasedSchema>
