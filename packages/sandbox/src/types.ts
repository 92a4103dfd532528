// The Bot API objects the sandbox produces, shaped as Bot API 10.1 (see spec/stars-subset.json).

export interface User {
  id: number
  is_bot: boolean
  first_name: string
  last_name?: string
  username?: string
  language_code?: string
  can_join_groups?: boolean
  can_read_all_group_messages?: boolean
  supports_inline_queries?: boolean
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
  offset: number
  length: number
}

export interface InlineKeyboardButton {
  text: string
  callback_data?: string
  url?: string
  pay?: boolean
  [field: string]: unknown
}

/** Any reply markup as sent; only an inline keyboard is interpreted (and normalised). */
export interface ReplyMarkup {
  inline_keyboard?: InlineKeyboardButton[][]
  [field: string]: unknown
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
  edit_date?: number
  text?: string
  entities?: MessageEntity[]
  photo?: PhotoSize[]
  caption?: string
  invoice?: Invoice
  successful_payment?: SuccessfulPayment
  refunded_payment?: RefundedPayment
  reply_markup?: ReplyMarkup
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
}

/** The update kinds the sandbox can produce (names as in `allowed_updates`). */
export type UpdateKind =
  | 'message'
  | 'edited_message'
  | 'callback_query'
  | 'pre_checkout_query'
  | 'subscription'

export interface TransactionPartnerUser {
  type: 'user'
  transaction_type: 'invoice_payment'
  user: User
  invoice_payload?: string
  subscription_period?: number
}

export interface StarTransaction {
  id: string
  amount: number
  date: number
  source?: TransactionPartnerUser
  receiver?: TransactionPartnerUser
}

export interface StarTransactions {
  transactions: StarTransaction[]
}

export interface StarAmount {
  amount: number
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
