// The Bot API objects the sandbox produces, shaped as Bot API 10.3 (see spec/stars-subset.json).

export interface User {
  id: number
  is_bot: boolean
  first_name: string
  last_name?: string
  username?: string
  language_code?: string
}

/** The bot's capabilities: what getMe adds to the bot's User ("Returned only in getMe"). */
export interface BotCapabilities {
  can_join_groups: boolean
  can_read_all_group_messages: boolean
  supports_inline_queries: boolean
  supports_guest_queries: boolean
  can_connect_to_business: boolean
  has_main_web_app: boolean
  has_topics_enabled: boolean
  allows_users_to_create_topics: boolean
  can_manage_bots: boolean
  supports_join_request_queries: boolean
}

export interface PrivateChat {
  id: number
  type: 'private'
  first_name: string
  last_name?: string
  username?: string
}

export interface MessageEntity {
  type: string
  /** In UTF-16 code units, as are all offsets and lengths of the Bot API. */
  offset: number
  length: number
  url?: string
  user?: User
  language?: string
  custom_emoji_id?: string
  unix_time?: number
  date_time_format?: string
}

/** What a message replies to (`reply_parameters`, in this chat). */
export interface ReplyParameters {
  message_id: number
  chat_id?: string
  allow_sending_without_reply?: boolean
}

export interface InlineKeyboardButton {
  text: string
  callback_data?: string
  url?: string
  pay?: boolean
  [field: string]: unknown
}

/** A message's keyboard as Telegram keeps it (reply keyboards stay with the user's client). */
export interface InlineKeyboardMarkup {
  inline_keyboard: InlineKeyboardButton[][]
}

export interface PhotoSize {
  file_id: string
  file_unique_id: string
  width: number
  height: number
  file_size?: number
}

export interface Invoice {
  title: string
  description: string
  start_parameter: string
  currency: string
  total_amount: number
}

export interface SuccessfulPayment {
  currency: string
  total_amount: number
  invoice_payload: string
  subscription_expiration_date?: number
  is_recurring?: true
  is_first_recurring?: true
  telegram_payment_charge_id: string
  provider_payment_charge_id: string
}

export interface RefundedPayment {
  currency: string
  total_amount: number
  invoice_payload: string
  telegram_payment_charge_id: string
  provider_payment_charge_id?: string
}

export interface Message {
  message_id: number
  from?: User
  date: number
  chat: PrivateChat
  reply_to_message?: Message
  edit_date?: number
  has_protected_content?: true
  text?: string
  entities?: MessageEntity[]
  photo?: PhotoSize[]
  caption?: string
  caption_entities?: MessageEntity[]
  invoice?: Invoice
  successful_payment?: SuccessfulPayment
  refunded_payment?: RefundedPayment
  paid_media?: PaidMediaInfo
  reply_markup?: InlineKeyboardMarkup
}

export interface Video {
  file_id: string
  file_unique_id: string
  width: number
  height: number
  duration: number
}

export type PaidMedia =
  | { type: 'photo'; photo: PhotoSize[] }
  | { type: 'video'; video: Video }
  | { type: 'preview'; width?: number; height?: number; duration?: number }

/** Message.paid_media: what sendPaidMedia sent (the bot sees the media, a buyer-to-be a preview). */
export interface PaidMediaInfo {
  star_count: number
  paid_media: PaidMedia[]
}

/** Update.purchased_paid_media: a user bought paid media with a non-empty payload. */
export interface PaidMediaPurchased {
  from: User
  paid_media_payload: string
}

export interface CallbackQuery {
  id: string
  from: User
  message?: Message
  chat_instance: string
  data?: string
}

export interface PreCheckoutQuery {
  id: string
  from: User
  currency: string
  total_amount: number
  invoice_payload: string
}

/** Bot API 10.2: a user's Stars subscription to the bot changed state. */
export interface BotSubscriptionUpdated {
  user: User
  invoice_payload: string
  /** `canceled` by the user, `active` again after a cancel, or the renewal payment `failed`. */
  state: SubscriptionState
}

export type SubscriptionState = 'active' | 'canceled' | 'failed'

export interface Update {
  update_id: number
  message?: Message
  edited_message?: Message
  callback_query?: CallbackQuery
  pre_checkout_query?: PreCheckoutQuery
  subscription?: BotSubscriptionUpdated
  purchased_paid_media?: PaidMediaPurchased
}

/** The update kinds the sandbox can produce (names as in `allowed_updates`). */
export type UpdateKind =
  | 'message'
  | 'edited_message'
  | 'callback_query'
  | 'pre_checkout_query'
  | 'subscription'
  | 'purchased_paid_media'

/** The affiliate who earned a commission on a user's payment (Telegram's affiliate programs). */
export interface AffiliateInfo {
  affiliate_user?: User
  affiliate_chat?: PrivateChat
  commission_per_mille: number
  /** The commission in whole Stars (rounded toward 0; negative on the refund row). */
  amount: number
  nanostar_amount?: number
}

export type TransactionType =
  | 'invoice_payment'
  | 'paid_media_payment'
  | 'gift_purchase'
  | 'premium_purchase'
  | 'business_account_transfer'

export interface TransactionPartnerUser {
  type: 'user'
  transaction_type: TransactionType
  user: User
  affiliate?: AffiliateInfo
  invoice_payload?: string
  subscription_period?: number
  paid_media?: PaidMedia[]
  paid_media_payload?: string
  premium_subscription_duration?: number
}

/** The bot's own commission as an affiliate of another bot's program. */
export interface TransactionPartnerAffiliateProgram {
  type: 'affiliate_program'
  sponsor_user?: User
  commission_per_mille: number
}

export type RevenueWithdrawalState =
  | { type: 'pending' }
  | { type: 'succeeded'; date: number; url: string }
  | { type: 'failed' }

/** A withdrawal of the bot's Stars through Fragment. */
export interface TransactionPartnerFragment {
  type: 'fragment'
  withdrawal_state?: RevenueWithdrawalState
}

export interface TransactionPartnerTelegramAds {
  type: 'telegram_ads'
}

/** Stars paid for Bot API requests beyond the free limit (paid broadcasts). */
export interface TransactionPartnerTelegramApi {
  type: 'telegram_api'
  request_count: number
}

export type TransactionPartner =
  | TransactionPartnerUser
  | TransactionPartnerAffiliateProgram
  | TransactionPartnerFragment
  | TransactionPartnerTelegramAds
  | TransactionPartnerTelegramApi

export interface StarTransaction {
  id: string
  amount: number
  nanostar_amount?: number
  date: number
  source?: TransactionPartner
  receiver?: TransactionPartner
}

export interface StarTransactions {
  transactions: StarTransaction[]
}

export interface StarAmount {
  amount: number
  nanostar_amount?: number
}

export interface WebhookInfo {
  url: string
  has_custom_certificate: boolean
  pending_update_count: number
  last_error_date?: number
  last_error_message?: string
  max_connections?: number
  allowed_updates?: string[]
}

/** What a bot answered to a callback query (answerCallbackQuery). */
export interface CallbackAnswer {
  text?: string
  show_alert?: boolean
  url?: string
}
