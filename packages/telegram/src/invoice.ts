import { InvalidStarsInvoiceError } from './errors.ts'
import {
  type CreateInvoiceLinkParams,
  STARS_SUBSCRIPTION_PERIOD,
  type StarsInvoiceFields,
} from './methods.ts'

export const STARS_INVOICE_LIMITS = {
  titleChars: { min: 1, max: 32 },
  descriptionChars: { min: 1, max: 255 },
  payloadBytes: { min: 1, max: 128 },
  /** Telegram's cap on a subscription's price per period, in Stars. */
  maxSubscriptionAmount: 10000,
} as const

export interface StarsInvoiceInput {
  title: string
  description: string
  /** 1–128 bytes: a short signed order reference, not the order itself. */
  payload: string
  /** Whole Stars, ≥ 1. */
  amount: number
  /** Price label; defaults to the title. */
  label?: string
  photo_url?: string
  photo_size?: number
  photo_width?: number
  photo_height?: number
}

export interface StarsSubscriptionInput extends StarsInvoiceInput {
  /** Monthly subscription (30 days); only createInvoiceLink accepts it. */
  subscription: true
}

export type StarsSubscriptionLinkParams = CreateInvoiceLinkParams & {
  subscription_period: typeof STARS_SUBSCRIPTION_PERIOD
}

/**
 * Builds the invoice part of sendInvoice / createInvoiceLink for Stars (XTR, provider_token '',
 * one price) and checks Telegram's limits. A subscription invoice only fits createInvoiceLink.
 */
export function starsInvoice(input: StarsSubscriptionInput): StarsSubscriptionLinkParams
export function starsInvoice(
  input: StarsInvoiceInput & { subscription?: false },
): StarsInvoiceFields
export function starsInvoice(
  input: StarsInvoiceInput & { subscription?: boolean },
): StarsInvoiceFields | StarsSubscriptionLinkParams {
  const fields: StarsInvoiceFields = {
    title: input.title,
    description: input.description,
    payload: input.payload,
    currency: 'XTR',
    provider_token: '',
    prices: [{ label: input.label ?? input.title, amount: input.amount }],
    ...(input.photo_url === undefined ? {} : { photo_url: input.photo_url }),
    ...(input.photo_size === undefined ? {} : { photo_size: input.photo_size }),
    ...(input.photo_width === undefined ? {} : { photo_width: input.photo_width }),
    ...(input.photo_height === undefined ? {} : { photo_height: input.photo_height }),
  }
  if (input.subscription === true) {
    const params: StarsSubscriptionLinkParams = {
      ...fields,
      subscription_period: STARS_SUBSCRIPTION_PERIOD,
    }
    assertStarsInvoice(params, 'createInvoiceLink')
    return params
  }
  assertStarsInvoice(fields, 'sendInvoice')
  return fields
}

const FORBIDDEN_FOR_STARS = [
  'max_tip_amount',
  'suggested_tip_amounts',
  'need_name',
  'need_phone_number',
  'need_email',
  'need_shipping_address',
  'send_phone_number_to_provider',
  'send_email_to_provider',
  'is_flexible',
] as const

function charCount(text: string): number {
  // Telegram counts Unicode characters, not UTF-16 code units.
  return [...text].length
}

function checkLength(
  field: string,
  length: number,
  limits: { min: number; max: number },
  unit: string,
) {
  if (length < limits.min || length > limits.max) {
    throw new InvalidStarsInvoiceError(
      field,
      `must be ${limits.min}–${limits.max} ${unit}, got ${length}`,
    )
  }
}

/**
 * Throws InvalidStarsInvoiceError unless `params` is an invoice Telegram accepts for Stars.
 * Runs inside sendInvoice / createInvoiceLink too, so untyped callers are caught before sending.
 */
export function assertStarsInvoice(
  invoice: object,
  method: 'sendInvoice' | 'createInvoiceLink',
): void {
  const params = invoice as Readonly<Record<string, unknown>>
  const { title, description, payload, currency, provider_token, prices } = params
  if (typeof title !== 'string') throw new InvalidStarsInvoiceError('title', 'must be a string')
  checkLength('title', charCount(title), STARS_INVOICE_LIMITS.titleChars, 'characters')
  if (typeof description !== 'string') {
    throw new InvalidStarsInvoiceError('description', 'must be a string')
  }
  checkLength(
    'description',
    charCount(description),
    STARS_INVOICE_LIMITS.descriptionChars,
    'characters',
  )
  if (typeof payload !== 'string') throw new InvalidStarsInvoiceError('payload', 'must be a string')
  checkLength(
    'payload',
    new TextEncoder().encode(payload).length,
    STARS_INVOICE_LIMITS.payloadBytes,
    'bytes',
  )
  if (currency !== 'XTR') throw new InvalidStarsInvoiceError('currency', 'must be "XTR"')
  if (provider_token !== undefined && provider_token !== '') {
    throw new InvalidStarsInvoiceError('provider_token', 'must be the empty string for Stars')
  }
  if (!Array.isArray(prices) || prices.length !== 1) {
    throw new InvalidStarsInvoiceError('prices', 'must hold exactly one price for Stars')
  }
  const price: unknown = prices[0]
  const amount =
    typeof price === 'object' && price !== null && 'amount' in price ? price.amount : undefined
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1) {
    throw new InvalidStarsInvoiceError('amount', 'must be a positive whole number of Stars')
  }
  const label = typeof price === 'object' && price !== null && 'label' in price ? price.label : ''
  if (typeof label !== 'string' || label.length === 0) {
    throw new InvalidStarsInvoiceError('label', 'must be a non-empty string')
  }
  for (const field of FORBIDDEN_FOR_STARS) {
    if (params[field] !== undefined) {
      throw new InvalidStarsInvoiceError(field, 'is not allowed for Stars invoices')
    }
  }
  const period = params.subscription_period
  if (period !== undefined) {
    if (method !== 'createInvoiceLink') {
      throw new InvalidStarsInvoiceError(
        'subscription_period',
        'is only accepted by createInvoiceLink',
      )
    }
    if (period !== STARS_SUBSCRIPTION_PERIOD) {
      throw new InvalidStarsInvoiceError(
        'subscription_period',
        `must be ${STARS_SUBSCRIPTION_PERIOD} (30 days)`,
      )
    }
    if (amount > STARS_INVOICE_LIMITS.maxSubscriptionAmount) {
      throw new InvalidStarsInvoiceError(
        'amount',
        `must be at most ${STARS_INVOICE_LIMITS.maxSubscriptionAmount} Stars for a subscription`,
      )
    }
  }
}
