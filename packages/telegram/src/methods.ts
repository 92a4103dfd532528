import type { z } from 'zod'
import { z as zod } from 'zod'
import {
  type LabeledPrice,
  MessageSchema,
  StarAmountSchema,
  StarTransactionsSchema,
  UserSchema,
  WebhookInfoSchema,
} from './types.ts'

/** Any Bot API object this package passes through without modelling it. */
export type BotApiObject = { readonly [key: string]: unknown }

export interface InlineKeyboardButton {
  text: string
  url?: string
  callback_data?: string
  /** Must be the first button of the first row of an invoice keyboard. */
  pay?: boolean
  [key: string]: unknown
}
export interface InlineKeyboardMarkup {
  inline_keyboard: InlineKeyboardButton[][]
}

/** No parameters. */
export type GetMeParams = Record<string, never>

export interface SendMessageParams {
  business_connection_id?: string
  chat_id: number | string
  message_thread_id?: number
  direct_messages_topic_id?: number
  text: string
  parse_mode?: 'HTML' | 'MarkdownV2' | 'Markdown'
  entities?: BotApiObject[]
  link_preview_options?: BotApiObject
  disable_notification?: boolean
  protect_content?: boolean
  allow_paid_broadcast?: boolean
  message_effect_id?: string
  suggested_post_parameters?: BotApiObject
  reply_parameters?: BotApiObject
  reply_markup?: InlineKeyboardMarkup | BotApiObject
}

/** Fields Telegram ignores or rejects for Stars invoices (tips, shipping, provider data). */
interface NotForStars {
  /** Not for Stars: tips are rejected (STARS_INVOICE_INVALID). */
  max_tip_amount?: never
  /** Not for Stars: tips are rejected. */
  suggested_tip_amounts?: never
  /** Not for Stars. */
  need_name?: never
  /** Not for Stars. */
  need_phone_number?: never
  /** Not for Stars. */
  need_email?: never
  /** Not for Stars. */
  need_shipping_address?: never
  /** Not for Stars. */
  send_phone_number_to_provider?: never
  /** Not for Stars. */
  send_email_to_provider?: never
  /** Not for Stars. */
  is_flexible?: never
}

/** The invoice part shared by sendInvoice and createInvoiceLink, Stars only. */
export interface StarsInvoiceFields extends NotForStars {
  /** 1–32 characters. */
  title: string
  /** 1–255 characters. */
  description: string
  /** 1–128 bytes; never shown to the user. */
  payload: string
  currency: 'XTR'
  /** Always the empty string for Stars; the client sends '' whatever is passed. */
  provider_token?: ''
  /** Exactly one price, in whole Stars. */
  prices: [LabeledPrice]
  provider_data?: string
  photo_url?: string
  photo_size?: number
  photo_width?: number
  photo_height?: number
}

export interface SendInvoiceParams extends StarsInvoiceFields {
  chat_id: number | string
  message_thread_id?: number
  direct_messages_topic_id?: number
  start_parameter?: string
  disable_notification?: boolean
  protect_content?: boolean
  allow_paid_broadcast?: boolean
  message_effect_id?: string
  suggested_post_parameters?: BotApiObject
  reply_parameters?: BotApiObject
  /** If present, the first button must be a `pay` button. */
  reply_markup?: InlineKeyboardMarkup
  /** Subscriptions exist only on createInvoiceLink. */
  subscription_period?: never
}

/** The only subscription period Telegram accepts: 30 days. */
export const STARS_SUBSCRIPTION_PERIOD = 2592000 as const

export interface CreateInvoiceLinkParams extends StarsInvoiceFields {
  business_connection_id?: string
  /** Makes the link a subscription; must be 2592000 (30 days), price ≤ 10000 Stars. */
  subscription_period?: typeof STARS_SUBSCRIPTION_PERIOD
}

export interface AnswerPreCheckoutQueryParams {
  pre_checkout_query_id: string
  ok: boolean
  /** Required when ok is false; shown to the user. */
  error_message?: string
}

export interface RefundStarPaymentParams {
  user_id: number
  telegram_payment_charge_id: string
}

export interface GetStarTransactionsParams {
  /** Number of transactions to skip. */
  offset?: number
  /** 1–100, default 100. */
  limit?: number
}

export interface EditUserStarSubscriptionParams {
  user_id: number
  telegram_payment_charge_id: string
  /** true stops renewal, false resumes it; access lasts until the paid period ends. */
  is_canceled: boolean
}

/** No parameters. */
export type GetMyStarBalanceParams = Record<string, never>

export interface SetWebhookParams {
  url: string
  /** Uploading a certificate needs multipart; this client sends JSON only. */
  certificate?: never
  ip_address?: string
  max_connections?: number
  /** Omitting it keeps the previous setting: list `message` and `pre_checkout_query`. */
  allowed_updates?: string[]
  drop_pending_updates?: boolean
  secret_token?: string
}

export interface DeleteWebhookParams {
  drop_pending_updates?: boolean
}

/** No parameters. */
export type GetWebhookInfoParams = Record<string, never>

/** Result schemas per wrapped method; `idempotent` methods are retried by default. */
export const methodResults = {
  getMe: { schema: UserSchema, idempotent: true },
  sendMessage: { schema: MessageSchema, idempotent: false },
  sendInvoice: { schema: MessageSchema, idempotent: false },
  createInvoiceLink: { schema: zod.string(), idempotent: false },
  answerPreCheckoutQuery: { schema: zod.literal(true), idempotent: false },
  refundStarPayment: { schema: zod.literal(true), idempotent: false },
  getStarTransactions: { schema: StarTransactionsSchema, idempotent: true },
  editUserStarSubscription: { schema: zod.literal(true), idempotent: false },
  getMyStarBalance: { schema: StarAmountSchema, idempotent: true },
  setWebhook: { schema: zod.literal(true), idempotent: true },
  deleteWebhook: { schema: zod.literal(true), idempotent: true },
  getWebhookInfo: { schema: WebhookInfoSchema, idempotent: true },
} as const

export interface MethodParams {
  getMe: GetMeParams
  sendMessage: SendMessageParams
  sendInvoice: SendInvoiceParams
  createInvoiceLink: CreateInvoiceLinkParams
  answerPreCheckoutQuery: AnswerPreCheckoutQueryParams
  refundStarPayment: RefundStarPaymentParams
  getStarTransactions: GetStarTransactionsParams
  editUserStarSubscription: EditUserStarSubscriptionParams
  getMyStarBalance: GetMyStarBalanceParams
  setWebhook: SetWebhookParams
  deleteWebhook: DeleteWebhookParams
  getWebhookInfo: GetWebhookInfoParams
}

export type MethodName = keyof MethodParams & keyof typeof methodResults
export type MethodResult<M extends MethodName> = z.output<(typeof methodResults)[M]['schema']>

/**
 * 'required' / 'optional' as the TypeScript type declares it; 'unsupported' for params typed
 * `never` (Telegram's, but not usable for Stars or over JSON). The compiler keeps this table
 * in step with the interfaces; test/spec.test.ts keeps it in step with spec/stars-subset.json.
 */
export type ParamTable<T> = {
  readonly [K in keyof T]-?: [Exclude<T[K], undefined>] extends [never]
    ? 'unsupported'
    : Partial<Pick<T, K>> extends Pick<T, K>
      ? 'optional'
      : 'required'
}

export const methodParamTable: { readonly [M in MethodName]: ParamTable<MethodParams[M]> } = {
  getMe: {},
  sendMessage: {
    business_connection_id: 'optional',
    chat_id: 'required',
    message_thread_id: 'optional',
    direct_messages_topic_id: 'optional',
    text: 'required',
    parse_mode: 'optional',
    entities: 'optional',
    link_preview_options: 'optional',
    disable_notification: 'optional',
    protect_content: 'optional',
    allow_paid_broadcast: 'optional',
    message_effect_id: 'optional',
    suggested_post_parameters: 'optional',
    reply_parameters: 'optional',
    reply_markup: 'optional',
  },
  sendInvoice: {
    chat_id: 'required',
    message_thread_id: 'optional',
    direct_messages_topic_id: 'optional',
    title: 'required',
    description: 'required',
    payload: 'required',
    provider_token: 'optional',
    currency: 'required',
    prices: 'required',
    max_tip_amount: 'unsupported',
    suggested_tip_amounts: 'unsupported',
    start_parameter: 'optional',
    provider_data: 'optional',
    photo_url: 'optional',
    photo_size: 'optional',
    photo_width: 'optional',
    photo_height: 'optional',
    need_name: 'unsupported',
    need_phone_number: 'unsupported',
    need_email: 'unsupported',
    need_shipping_address: 'unsupported',
    send_phone_number_to_provider: 'unsupported',
    send_email_to_provider: 'unsupported',
    is_flexible: 'unsupported',
    disable_notification: 'optional',
    protect_content: 'optional',
    allow_paid_broadcast: 'optional',
    message_effect_id: 'optional',
    suggested_post_parameters: 'optional',
    reply_parameters: 'optional',
    reply_markup: 'optional',
    subscription_period: 'unsupported',
  },
  createInvoiceLink: {
    business_connection_id: 'optional',
    title: 'required',
    description: 'required',
    payload: 'required',
    provider_token: 'optional',
    currency: 'required',
    prices: 'required',
    subscription_period: 'optional',
    max_tip_amount: 'unsupported',
    suggested_tip_amounts: 'unsupported',
    provider_data: 'optional',
    photo_url: 'optional',
    photo_size: 'optional',
    photo_width: 'optional',
    photo_height: 'optional',
    need_name: 'unsupported',
    need_phone_number: 'unsupported',
    need_email: 'unsupported',
    need_shipping_address: 'unsupported',
    send_phone_number_to_provider: 'unsupported',
    send_email_to_provider: 'unsupported',
    is_flexible: 'unsupported',
  },
  answerPreCheckoutQuery: {
    pre_checkout_query_id: 'required',
    ok: 'required',
    error_message: 'optional',
  },
  refundStarPayment: { user_id: 'required', telegram_payment_charge_id: 'required' },
  getStarTransactions: { offset: 'optional', limit: 'optional' },
  editUserStarSubscription: {
    user_id: 'required',
    telegram_payment_charge_id: 'required',
    is_canceled: 'required',
  },
  getMyStarBalance: {},
  setWebhook: {
    url: 'required',
    certificate: 'unsupported',
    ip_address: 'optional',
    max_connections: 'optional',
    allowed_updates: 'optional',
    drop_pending_updates: 'optional',
    secret_token: 'optional',
  },
  deleteWebhook: { drop_pending_updates: 'optional' },
  getWebhookInfo: {},
}
