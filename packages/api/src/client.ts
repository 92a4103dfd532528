import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client'
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server'
import type { BillingErrorFacts, ClientRouter } from './client-router.ts'

export type {
  BillingErrorFacts,
  EStarsErrorData,
  EStarsErrorShape,
  InputErrors,
} from './client-router.ts'
/** The procedures a bot or a Mini App calls (not the operator console's), as the client types them. */
export type AppRouter = ClientRouter
export type RouterInputs = inferRouterInputs<AppRouter>
export type RouterOutputs = inferRouterOutputs<AppRouter>

export interface EStarsClientOptions {
  /** The e-Stars server, e.g. `http://localhost:3000` (the `/trpc` path is added). */
  url: string
  /** A project API key (`esk_…`). */
  apiKey: string
  fetch?: typeof fetch
}

/** A fully typed client for a bot's backend. */
export function createEStarsClient(options: EStarsClientOptions) {
  const base = options.url.replace(/\/+$/, '')
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: base.endsWith('/trpc') ? base : `${base}/trpc`,
        headers: () => ({ authorization: `Bearer ${options.apiKey}` }),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
    ],
  })
}

export type EStarsClient = ReturnType<typeof createEStarsClient>

/** The domain facts the server attached to an error, e.g. `{ code: 'INSUFFICIENT_CREDITS', available, required }`. */
export function billingErrorOf(error: unknown): BillingErrorFacts | null {
  if (!(error instanceof TRPCClientError)) return null
  const data = error.data as { billing?: BillingErrorFacts | null } | undefined
  return data?.billing ?? null
}

export interface InsufficientCreditsFacts {
  code: 'INSUFFICIENT_CREDITS'
  available: number
  required: number
}

export function isInsufficientCredits(error: unknown): error is TRPCClientError<AppRouter> & {
  data: { billing: InsufficientCreditsFacts }
} {
  return billingErrorOf(error)?.code === 'INSUFFICIENT_CREDITS'
}

export const isIdempotencyConflict = (error: unknown) =>
  billingErrorOf(error)?.code === 'IDEMPOTENCY_CONFLICT'

export interface QuotaExceededFacts {
  code: 'QUOTA_EXCEEDED'
  feature: string
  limit: number
  used: number
  requested: number
  /** ISO-8601: when the window resets (calendar) or usage starts leaving it (rolling). */
  resetsAt: string | null
  period: 'day' | 'week' | 'month'
  window: 'calendar' | 'rolling'
}

export function isQuotaExceeded(error: unknown): error is TRPCClientError<AppRouter> & {
  data: { billing: QuotaExceededFacts }
} {
  return billingErrorOf(error)?.code === 'QUOTA_EXCEEDED'
}
