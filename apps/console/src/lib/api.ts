import type { AppRouter, RouterOutputs } from '@e-stars/api'
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client'

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

export function describeError(error: unknown): string {
  const info = errorInfo(error)
  if (info.fields) {
    const first = Object.entries(info.fields).find(([, v]) => v?.length)
    if (first) return `${first[0]}: ${first[1]![0]}`
  }
  if (info.billing?.code === 'INSUFFICIENT_CREDITS')
    return `Not enough credits: ${info.billing.available} available, ${info.billing.required} required`
  if (info.code === 'NETWORK') return 'The server does not answer. Check that it is running.'
  return info.message
}

/** A fresh idempotency key per submitted form (a double click replays instead of repeating). */
export const newKey = () => crypto.randomUUID()
