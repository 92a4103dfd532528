import type { AppRouter, RouterOutputs } from '@e-stars/api'
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client'
import { formatNumber } from './format.ts'

export type { RouterOutputs }

let csrfToken: string | null = null

/** The session's double-submit token, sent as `x-csrf-token` on every call. */
export function setCsrfToken(token: string | null) {
  csrfToken = token
}

export const csrfHeader = (): Record<string, string> =>
  csrfToken ? { 'x-csrf-token': csrfToken } : {}

/** The console talks to the API only, with its session cookie (httpOnly: scripts never see it). */
export const api = createTRPCClient<AppRouter>({
  links: [
    httpBatchLink({
      url: '/trpc',
      headers: csrfHeader,
      fetch: (url, options) => fetch(url, { ...(options as RequestInit), credentials: 'include' }),
    }),
  ],
})

export interface ApiErrorInfo {
  code: string
  message: string
  /** Domain facts, e.g. `{ code: 'INSUFFICIENT_CREDITS', available, required }`. */
  billing: ({ code: string } & Record<string, unknown>) | null
  fields: Record<string, string[] | undefined> | null
}

/** What went wrong, in words an operator can act on. */
export function errorInfo(error: unknown): ApiErrorInfo {
  if (error instanceof TRPCClientError) {
    const data = error.data as
      | {
          code?: string
          billing?: ({ code: string } & Record<string, unknown>) | null
          zodError?: { fieldErrors?: Record<string, string[] | undefined> } | null
        }
      | undefined
    return {
      code: data?.code ?? 'ERROR',
      message: error.message,
      billing: data?.billing ?? null,
      fields: data?.zodError?.fieldErrors ?? null,
    }
  }
  if (error instanceof Error)
    return { code: 'NETWORK', message: error.message, billing: null, fields: null }
  return { code: 'ERROR', message: String(error), billing: null, fields: null }
}

/**
 * What each input field must be, in words: the API's BAD_REQUEST names the field, and the
 * operator reads a sentence, never the validator's own text.
 */
const fieldRules: Record<string, string> = {
  amount: 'Credits must be a whole number, not zero, up to 1,000,000,000,000.',
  reason: 'Give a reason of 1 to 500 characters.',
  resolution: 'Say what was done, in 1 to 500 characters.',
  query: 'A search is at most 100 characters.',
  name: 'The name must be 1 to 100 characters.',
  title: 'The title must be 1 to 32 characters.',
  description: 'The description must be 1 to 255 characters.',
  key: 'A key is lower-case letters, digits, "_", "." or "-", up to 64 characters.',
  priceStars: 'The price must be a whole number of Stars, at least 1.',
  credits: 'Credits must be a whole number, 0 or more.',
  perUnits: 'Units must be a whole number, at least 1.',
  creditsExpireDays: 'The expiry must be a whole number of days, at least 1.',
  durationDays: 'The days must be a whole number from 1 to 36,500.',
  expiresAt: 'The expiry date is not a valid date.',
  featureKey: 'Choose a feature.',
  lowBalanceThreshold: 'The threshold must be a whole number, 0 or more.',
  timeZone: 'Choose a time zone.',
  relayTarget: 'The relay target must be an https:// address.',
  botToken: 'That does not look like a bot token from @BotFather.',
  email: 'Enter an email address.',
  password: 'Enter the password.',
}

/** The sentence for a refused field: its rule, or a plain request to check it. */
export function fieldSentence(field: string): string {
  const last = field.split('.').pop() ?? field
  return fieldRules[last] ?? `Check the value of “${last}”.`
}

export function describeError(error: unknown): string {
  const info = errorInfo(error)
  if (info.fields) {
    const first = Object.entries(info.fields).find(([, v]) => v?.length)
    if (first) return fieldSentence(first[0])
  }
  if (info.billing?.code === 'INSUFFICIENT_CREDITS')
    return `Not enough credits: ${formatNumber(Number(info.billing.available))} available, ${formatNumber(Number(info.billing.required))} required.`
  if (info.code === 'NETWORK') return 'The server does not answer. Check that it is running.'
  // A validator's report that carried no field (JSON text) is not for reading.
  if (info.code === 'BAD_REQUEST' && /^\s*[[{]/.test(info.message))
    return 'The server refused this input. Check the form and try again.'
  return info.message
}

/** A fresh idempotency key per submitted form (a double click replays instead of repeating). */
export const newKey = () => crypto.randomUUID()
