import type { z } from 'zod'
import {
  TelegramApiError,
  type TelegramError,
  TelegramNetworkError,
  TelegramResponseShapeError,
} from './errors.ts'
import { assertStarsInvoice } from './invoice.ts'
import { type MethodName, type MethodParams, type MethodResult, methodResults } from './methods.ts'

export interface RetryOptions {
  /** Total tries including the first. Default 3. */
  attempts?: number
  /** First back-off after a network error or 5xx; doubles each time. Default 500 ms. */
  baseDelayMs?: number
  /** Give up rather than wait longer than this (also caps 429 retry_after). Default 30 s. */
  maxDelayMs?: number
  /** Replaces how the client waits (tests). */
  sleep?: (ms: number) => Promise<void>
}

export interface BotApiOptions {
  token: string
  /** Default https://api.telegram.org; an http:// root (the sandbox) works. */
  apiRoot?: string
  /** Telegram's test environment (`/bot<token>/test/<method>`). */
  testEnv?: boolean
  /** Per-call timeout. Default 30 000 ms. */
  timeoutMs?: number
  fetch?: typeof fetch
  /** Back-off for retried calls; `false` disables retries everywhere. */
  retry?: RetryOptions | false
}

export interface CallOptions {
  /**
   * Retry transient failures (network, 5xx, 429). Default: on for read-only / idempotent
   * methods (getMe, getStarTransactions, getMyStarBalance, getWebhookInfo, setWebhook,
   * deleteWebhook), off for the rest, since a timed-out sendInvoice may have been delivered.
   */
  retry?: boolean
  timeoutMs?: number
  signal?: AbortSignal
}

type Params<M extends MethodName> = MethodParams[M]

export interface BotApi {
  /** Typed for the wrapped methods; anything else returns the raw `result`. */
  call<M extends MethodName>(
    method: M,
    params: Params<M>,
    options?: CallOptions,
  ): Promise<MethodResult<M>>
  call(method: string, params?: object, options?: CallOptions): Promise<unknown>
  getMe(options?: CallOptions): Promise<MethodResult<'getMe'>>
  sendMessage(
    params: Params<'sendMessage'>,
    options?: CallOptions,
  ): Promise<MethodResult<'sendMessage'>>
  /** Always sends currency XTR and provider_token ''; validates Stars limits first. */
  sendInvoice(
    params: Params<'sendInvoice'>,
    options?: CallOptions,
  ): Promise<MethodResult<'sendInvoice'>>
  /** Always sends currency XTR and provider_token ''; validates Stars limits first. */
  createInvoiceLink(
    params: Params<'createInvoiceLink'>,
    options?: CallOptions,
  ): Promise<MethodResult<'createInvoiceLink'>>
  answerPreCheckoutQuery(
    params: Params<'answerPreCheckoutQuery'>,
    options?: CallOptions,
  ): Promise<MethodResult<'answerPreCheckoutQuery'>>
  refundStarPayment(
    params: Params<'refundStarPayment'>,
    options?: CallOptions,
  ): Promise<MethodResult<'refundStarPayment'>>
  getStarTransactions(
    params?: Params<'getStarTransactions'>,
    options?: CallOptions,
  ): Promise<MethodResult<'getStarTransactions'>>
  editUserStarSubscription(
    params: Params<'editUserStarSubscription'>,
    options?: CallOptions,
  ): Promise<MethodResult<'editUserStarSubscription'>>
  getMyStarBalance(options?: CallOptions): Promise<MethodResult<'getMyStarBalance'>>
  setWebhook(
    params: Params<'setWebhook'>,
    options?: CallOptions,
  ): Promise<MethodResult<'setWebhook'>>
  deleteWebhook(
    params?: Params<'deleteWebhook'>,
    options?: CallOptions,
  ): Promise<MethodResult<'deleteWebhook'>>
  getWebhookInfo(options?: CallOptions): Promise<MethodResult<'getWebhookInfo'>>
}

const DEFAULT_API_ROOT = 'https://api.telegram.org'
const DEFAULT_TIMEOUT_MS = 30_000
const REDACTED = '<redacted>'
// Any bot token, in case one other than ours shows up in a message (e.g. a proxy echoing a URL).
const ANY_BOT_TOKEN = /\d{3,}:[A-Za-z0-9_-]{20,}/g

export function createRedactor(token: string): (text: string) => string {
  const forms = [token, encodeURIComponent(token)].filter((form) => form.length > 0)
  return (text) => {
    let out = text
    for (const form of forms) out = out.split(form).join(REDACTED)
    return out.replace(ANY_BOT_TOKEN, REDACTED)
  }
}

/**
 * A copy of an error (and its causes) with the token removed from every message and stack.
 * fetch errors can quote the request URL, and that URL holds the token.
 */
function sanitizeError(error: unknown, redact: (text: string) => string, depth = 0): Error {
  const source = error instanceof Error ? error : new Error(String(error))
  const cause =
    depth < 4 && source.cause !== undefined
      ? sanitizeError(source.cause, redact, depth + 1)
      : undefined
  const copy = new Error(redact(source.message), cause === undefined ? undefined : { cause })
  copy.name = source.name
  copy.stack = source.stack === undefined ? undefined : redact(source.stack)
  const code: unknown = 'code' in source ? source.code : undefined
  if (typeof code === 'string' || typeof code === 'number') {
    Object.assign(copy, { code: typeof code === 'string' ? redact(code) : code })
  }
  return copy
}

function describeCause(error: Error | undefined): string {
  const parts: string[] = []
  let current: unknown = error
  while (current instanceof Error && parts.length < 4) {
    const code = 'code' in current && typeof current.code === 'string' ? ` [${current.code}]` : ''
    parts.push(`${current.message}${code}`)
    current = current.cause
  }
  return parts.join(': ') || 'request failed'
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

interface RawResponse {
  ok: boolean
  result?: unknown
  error_code?: unknown
  description?: unknown
  parameters?: unknown
}

function isRawResponse(value: unknown): value is RawResponse {
  return (
    typeof value === 'object' && value !== null && 'ok' in value && typeof value.ok === 'boolean'
  )
}

function toApiError(method: string, raw: RawResponse, redact: (text: string) => string) {
  const parameters =
    typeof raw.parameters === 'object' && raw.parameters !== null ? raw.parameters : {}
  const retryAfter = 'retry_after' in parameters ? parameters.retry_after : undefined
  return new TelegramApiError(method, {
    error_code: typeof raw.error_code === 'number' ? raw.error_code : 0,
    description: redact(typeof raw.description === 'string' ? raw.description : 'no description'),
    parameters: typeof retryAfter === 'number' ? { retry_after: retryAfter } : {},
  })
}

export function createBotApi(options: BotApiOptions): BotApi {
  if (typeof options.token !== 'string' || options.token.length === 0) {
    throw new TypeError('createBotApi: token is required')
  }
  // The token lives only in this closure: the returned object has nothing to log or serialize.
  const token = options.token
  const redact = createRedactor(token)
  const apiRoot = (options.apiRoot ?? DEFAULT_API_ROOT).replace(/\/+$/, '')
  const doFetch = options.fetch ?? globalThis.fetch
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const retry = options.retry === false ? undefined : (options.retry ?? {})
  const attempts = Math.max(1, retry?.attempts ?? 3)
  const baseDelayMs = retry?.baseDelayMs ?? 500
  const maxDelayMs = retry?.maxDelayMs ?? 30_000
  const wait = retry?.sleep ?? sleep

  async function once(method: string, params: object, callOptions: CallOptions): Promise<unknown> {
    const url = `${apiRoot}/bot${token}${options.testEnv ? '/test' : ''}/${method}`
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, callOptions.timeoutMs ?? defaultTimeoutMs)
    const outer = callOptions.signal
    const onOuterAbort = () => controller.abort()
    outer?.addEventListener('abort', onOuterAbort, { once: true })
    if (outer?.aborted) controller.abort()

    const networkError = (error: unknown): TelegramNetworkError => {
      const cause = sanitizeError(error, redact)
      if (timedOut) {
        return new TelegramNetworkError(
          method,
          'timeout',
          `no reply within ${callOptions.timeoutMs ?? defaultTimeoutMs} ms`,
          { cause },
        )
      }
      if (outer?.aborted)
        return new TelegramNetworkError(method, 'aborted', 'aborted by caller', { cause })
      return new TelegramNetworkError(method, 'connection', describeCause(cause), { cause })
    }

    let status: number
    let body: string
    try {
      const response = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(params),
        signal: controller.signal,
      })
      status = response.status
      body = await response.text()
    } catch (error) {
      throw networkError(error)
    } finally {
      clearTimeout(timer)
      outer?.removeEventListener('abort', onOuterAbort)
    }

    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      parsed = undefined
    }
    if (!isRawResponse(parsed)) {
      // A proxy's HTML page or a wrong apiRoot; a gateway error is worth another try.
      throw new TelegramNetworkError(
        method,
        'bad_response',
        `HTTP ${status} without a Bot API reply`,
        {
          httpStatus: status,
          transient: status >= 500 || status === 429,
        },
      )
    }
    if (!parsed.ok) throw toApiError(method, parsed, redact)
    return parsed.result
  }

  function retryDelay(error: TelegramError, attempt: number): number | undefined {
    if (!error.transient) return undefined
    if (error instanceof TelegramApiError && error.retryAfter !== undefined) {
      const ms = error.retryAfter * 1000
      return ms <= maxDelayMs ? ms : undefined
    }
    return Math.min(baseDelayMs * 2 ** (attempt - 1), maxDelayMs)
  }

  async function call(
    method: string,
    params: object = {},
    callOptions: CallOptions = {},
  ): Promise<unknown> {
    const known = Object.hasOwn(methodResults, method)
      ? methodResults[method as MethodName]
      : undefined
    const retrying = retry !== undefined && (callOptions.retry ?? known?.idempotent ?? false)
    const maxAttempts = retrying ? attempts : 1
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await once(method, params, callOptions)
        return known === undefined ? result : validate(method, known.schema, result)
      } catch (error) {
        if (!(error instanceof TelegramApiError || error instanceof TelegramNetworkError))
          throw error
        const delay = attempt < maxAttempts ? retryDelay(error, attempt) : undefined
        if (delay === undefined || callOptions.signal?.aborted) throw error
        await wait(delay)
      }
    }
  }

  function validate(method: string, schema: z.ZodType, result: unknown): unknown {
    const parsed = schema.safeParse(result)
    if (parsed.success) return parsed.data
    throw new TelegramResponseShapeError(
      method,
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(result)'}: ${issue.message}`),
    )
  }

  const typed = <M extends MethodName>(method: M, params: Params<M>, callOptions?: CallOptions) =>
    call(method, params, callOptions) as Promise<MethodResult<M>>

  // async so that validation failures reject like every other failure instead of throwing.
  const invoice = async <M extends 'sendInvoice' | 'createInvoiceLink'>(
    method: M,
    params: Params<M>,
    callOptions?: CallOptions,
  ) => {
    const stars = { ...params, currency: 'XTR', provider_token: '' } as Params<M>
    assertStarsInvoice(stars, method)
    return typed(method, stars, callOptions)
  }

  return {
    call: call as BotApi['call'],
    getMe: (o) => typed('getMe', {}, o),
    sendMessage: (p, o) => typed('sendMessage', p, o),
    sendInvoice: (p, o) => invoice('sendInvoice', p, o),
    createInvoiceLink: (p, o) => invoice('createInvoiceLink', p, o),
    answerPreCheckoutQuery: async (p, o) => {
      if (!p.ok && !p.error_message) {
        throw new TypeError('answerPreCheckoutQuery: error_message is required when ok is false')
      }
      return typed('answerPreCheckoutQuery', p, o)
    },
    refundStarPayment: (p, o) => typed('refundStarPayment', p, o),
    getStarTransactions: (p, o) => typed('getStarTransactions', p ?? {}, o),
    editUserStarSubscription: (p, o) => typed('editUserStarSubscription', p, o),
    getMyStarBalance: (o) => typed('getMyStarBalance', {}, o),
    setWebhook: (p, o) => typed('setWebhook', p, o),
    deleteWebhook: (p, o) => typed('deleteWebhook', p ?? {}, o),
    getWebhookInfo: (o) => typed('getWebhookInfo', {}, o),
  }
}

/** The parts of Telegraf's `ctx.telegram` / `bot.telegram` this package needs. */
export interface TelegrafTelegramLike {
  readonly token: string
  readonly options: { readonly apiRoot: string; readonly testEnv?: boolean }
}

/** A BotApi talking to the same server as a Telegraf instance (`bot.telegram`). */
export function botApiFromTelegraf(
  telegram: TelegrafTelegramLike,
  options: Omit<BotApiOptions, 'token' | 'apiRoot' | 'testEnv'> = {},
): BotApi {
  return createBotApi({
    ...options,
    token: telegram.token,
    apiRoot: telegram.options.apiRoot,
    testEnv: telegram.options.testEnv ?? false,
  })
}
