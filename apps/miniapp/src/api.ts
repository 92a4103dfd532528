import type { AppRouter, RouterOutputs } from '@e-stars/api'
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client'

export type { RouterOutputs }
export type Product = RouterOutputs['me']['products'][number]
export type Balance = RouterOutputs['me']['balance']
export type Entitlement = RouterOutputs['me']['entitlements'][number]
export type QuotaLine = RouterOutputs['me']['quotas'][number]
export type Activity = RouterOutputs['me']['activity'][number]

/** Where e-Stars answers: the same origin by default (the server serves this app at /miniapp/). */
const apiUrl = `${(import.meta.env.VITE_ESTARS_URL ?? '').replace(/\/+$/, '')}/trpc`

/**
 * The project this Mini App sells for: `?project=` in the URL set in BotFather, or fixed at build
 * time with VITE_ESTARS_PROJECT_ID.
 */
export const projectId =
  new URLSearchParams(window.location.search).get('project') ??
  import.meta.env.VITE_ESTARS_PROJECT_ID ??
  ''

let token: string | null = null

const client = createTRPCClient<AppRouter>({
  links: [
    httpBatchLink({
      url: apiUrl,
      // The customer token only: the app never holds an API key, and sends no cookies.
      headers: (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {}),
      fetch: (url, options) => fetch(url, { ...(options as RequestInit), credentials: 'omit' }),
    }),
  ],
})

/** The domain facts of an API error (`error.data.billing`), e.g. `{ code, reason }`. */
export function billingOf(error: unknown): ({ code: string } & Record<string, unknown>) | null {
  if (!(error instanceof TRPCClientError)) return null
  const data = error.data as { billing?: { code: string } & Record<string, unknown> } | undefined
  return data?.billing ?? null
}

let initData = ''

/** Trades Telegram's init data for a customer token (kept in memory only). */
export async function signIn(telegramInitData: string) {
  initData = telegramInitData
  const session = await client.miniApp.signIn.mutate({ projectId, initData })
  token = session.token
  return session
}

/** Runs a call as the signed-in user; an expired token is renewed from the init data once. */
async function asMe<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    if (billingOf(error)?.code !== 'CUSTOMER_SESSION_INVALID' || !initData) throw error
    await signIn(initData)
    return call()
  }
}

export const me = {
  balance: () => asMe(() => client.me.balance.query()),
  entitlements: () => asMe(() => client.me.entitlements.query()),
  quotas: () => asMe(() => client.me.quotas.query()),
  activity: () => asMe(() => client.me.activity.query({ limit: 8 })),
  products: () => asMe(() => client.me.products.query()),
  check: (feature: string) => asMe(() => client.me.check.query({ feature })),
  buy: (productKey: string) => asMe(() => client.me.buy.mutate({ productKey })),
  consume: (feature: string, idempotencyKey: string) =>
    asMe(() => client.me.consume.mutate({ feature, quantity: 1, idempotencyKey })),
}

/** A sentence for the user from any error. */
export function describeError(error: unknown): string {
  const billing = billingOf(error)
  if (billing?.code === 'INIT_DATA_REJECTED') {
    const reason = billing.reason
    if (reason === 'missing') return 'Open this Mini App from the bot in Telegram.'
    if (reason === 'expired')
      return 'This session is too old: close the Mini App and open it again.'
    return 'Telegram could not vouch for this session: open the Mini App from the bot again.'
  }
  if (billing?.code === 'INSUFFICIENT_CREDITS') return 'Not enough credits: buy a pack first.'
  if (billing?.code === 'QUOTA_EXCEEDED') return 'Daily limit reached: try again after it resets.'
  if (billing?.code === 'PRODUCT_UNAVAILABLE') return 'This is not on sale for you right now.'
  if (error instanceof TRPCClientError) return error.message
  return 'Something went wrong. Try again.'
}
