import type { VirtualClock } from './clock.ts'
import { emit } from './emitted.ts'
import { BotApiError } from './errors.ts'
import { isRecord } from './params.ts'
import type { Update, UpdateKind } from './types.ts'

export interface DeliveryOptions {
  /** First webhook retry delay; doubles on each failure (Telegram: about 1 s). */
  retryBaseDelayMs: number
  /** Cap of the retry delay (Telegram: about a minute). */
  retryMaxDelayMs: number
  /** How long one webhook POST may take before it counts as failed. */
  webhookTimeoutMs: number
}

export interface WebhookConfig {
  url: string
  secretToken: string | undefined
  maxConnections: number
}

/** One webhook POST, kept so tests can see retries and their order. */
export interface WebhookAttempt {
  updateId: number
  chatId: number
  ok: boolean
  status?: number
  error?: string
}

/** A method call a webhook answered with in its response body (Telegraf's `webhookReply`). */
export interface WebhookReply {
  method: string
  params: Record<string, unknown>
}

/**
 * Kinds delivered only when `allowed_updates` names them. Whether Telegram's default includes
 * `subscription` (Bot API 10.2) is unverified, so the sandbox takes the stricter reading: a bot
 * that works here names it explicitly and so works against Telegram either way.
 */
export const NOT_BY_DEFAULT: ReadonlySet<UpdateKind> = new Set(['subscription'])

interface Pending {
  update: Update
  chatId: number
  attempts: number
  inFlight: boolean
  retryTimer: NodeJS.Timeout | undefined
}

interface Poller {
  wake: () => void
  fail: (error: BotApiError) => void
}

/**
 * The pending updates of one bot and their delivery, by long polling or by webhook.
 * Updates stay queued until confirmed (a getUpdates offset past them, or a 2xx webhook reply).
 * Webhook delivery keeps per-chat order: only the oldest pending update of a chat is ever in
 * flight, so a failing update blocks the later ones of its chat but not other chats.
 */
export class UpdateChannel {
  readonly attempts: WebhookAttempt[] = []
  readonly dropped: Update[] = []
  #queue: Pending[] = []
  #nextUpdateId: number
  #allowed: ReadonlySet<string> | undefined
  #webhook: WebhookConfig | undefined
  #lastError: { date: number; message: string } | undefined
  #poller: Poller | undefined
  #faults = { drop: 0, duplicate: 0 }
  #closed = false
  readonly #clock: VirtualClock
  readonly #options: DeliveryOptions
  readonly #onWebhookReply: (reply: WebhookReply) => void

  constructor(
    clock: VirtualClock,
    options: DeliveryOptions,
    onWebhookReply: (reply: WebhookReply) => void,
  ) {
    this.#clock = clock
    this.#options = options
    this.#onWebhookReply = onWebhookReply
    // Telegram's update ids start at an arbitrary large number, not at 1.
    this.#nextUpdateId = 100_000_000 + Math.floor(Math.random() * 1_000_000)
  }

  get webhook(): WebhookConfig | undefined {
    return this.#webhook
  }

  get pendingCount(): number {
    return this.#queue.length
  }

  get allowedUpdates(): string[] | undefined {
    return this.#allowed ? [...this.#allowed] : undefined
  }

  get lastError(): { date: number; message: string } | undefined {
    return this.#lastError
  }

  /** The next `count` updates are discarded instead of delivered. */
  dropNext(count = 1): void {
    this.#faults.drop += count
  }

  /** The next `count` updates are delivered twice (same update_id). */
  duplicateNext(count = 1): void {
    this.#faults.duplicate += count
  }

  /**
   * Creates an update. Returns it, or undefined when `allowed_updates` excludes its kind
   * (Telegram does not store those at all). A dropped update is returned but never delivered.
   */
  enqueue(
    kind: UpdateKind,
    payload: NonNullable<Update[UpdateKind]>,
    chatId: number,
  ): Update | undefined {
    if (this.#closed) return undefined
    if (this.#allowed ? !this.#allowed.has(kind) : NOT_BY_DEFAULT.has(kind)) return undefined
    const update: Update = { update_id: this.#nextUpdateId++, [kind]: payload }
    if (this.#faults.drop > 0) {
      this.#faults.drop--
      this.dropped.push(update)
      return update
    }
    const copies = this.#faults.duplicate > 0 ? 2 : 1
    if (copies === 2) this.#faults.duplicate--
    for (let i = 0; i < copies; i++) {
      this.#queue.push({ update, chatId, attempts: 0, inFlight: false, retryTimer: undefined })
    }
    this.#poller?.wake()
    this.#pump()
    return update
  }

  async getUpdates(input: {
    offset?: number | undefined
    limit?: number | undefined
    timeoutSec?: number | undefined
    allowedUpdates?: string[] | undefined
    signal?: AbortSignal | undefined
  }): Promise<Update[]> {
    if (this.#webhook) {
      throw new BotApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      )
    }
    this.#setAllowed(input.allowedUpdates)
    const offset = input.offset ?? 0
    if (offset > 0) this.#queue = this.#queue.filter((p) => p.update.update_id >= offset)
    else if (offset < 0) this.#queue = this.#queue.slice(offset)
    const limit = Math.min(Math.max(input.limit ?? 100, 1), 100)
    const timeoutMs = Math.min(Math.max(input.timeoutSec ?? 0, 0), 50) * 1000
    if (this.#queue.length === 0 && timeoutMs > 0 && !this.#closed) {
      await this.#waitForUpdates(timeoutMs, input.signal)
    }
    return this.#queue.slice(0, limit).map((p) => p.update)
  }

  #waitForUpdates(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    this.#poller?.fail(
      new BotApiError(
        409,
        'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
      ),
    )
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        if (this.#poller === poller) this.#poller = undefined
      }
      const poller: Poller = {
        wake: () => {
          done()
          resolve()
        },
        fail: (error) => {
          done()
          reject(error)
        },
      }
      const timer = setTimeout(poller.wake, timeoutMs)
      signal?.addEventListener('abort', poller.wake)
      this.#poller = poller
    })
  }

  setWebhook(input: {
    url: string
    secretToken?: string | undefined
    maxConnections?: number | undefined
    allowedUpdates?: string[] | undefined
    dropPendingUpdates?: boolean | undefined
  }): void {
    this.#poller?.fail(new BotApiError(409, 'Conflict: terminated by setWebhook request'))
    this.#cancelRetries()
    this.#setAllowed(input.allowedUpdates)
    if (input.dropPendingUpdates) this.#queue = []
    this.#webhook = {
      url: input.url,
      secretToken: input.secretToken,
      maxConnections: input.maxConnections ?? 40,
    }
    this.#lastError = undefined
    this.#pump()
  }

  deleteWebhook(dropPendingUpdates = false): void {
    this.#cancelRetries()
    this.#webhook = undefined
    this.#lastError = undefined
    if (dropPendingUpdates) this.#queue = []
  }

  close(): void {
    this.#closed = true
    this.#cancelRetries()
    this.#poller?.wake()
  }

  /** Omitted keeps the previous setting; an empty list means "all", as in Telegram. */
  #setAllowed(kinds: string[] | undefined): void {
    if (kinds) this.#allowed = kinds.length > 0 ? new Set(kinds) : undefined
  }

  #cancelRetries(): void {
    for (const p of this.#queue) {
      clearTimeout(p.retryTimer)
      p.retryTimer = undefined
      p.attempts = 0
    }
  }

  #pump(): void {
    const webhook = this.#webhook
    if (!webhook || this.#closed) return
    const headOfLine = new Set<number>()
    let inFlight = this.#queue.filter((p) => p.inFlight).length
    for (const pending of this.#queue) {
      if (headOfLine.has(pending.chatId)) continue
      headOfLine.add(pending.chatId)
      if (pending.inFlight || pending.retryTimer) continue
      if (inFlight >= webhook.maxConnections) break
      inFlight++
      void this.#post(webhook, pending)
    }
  }

  async #post(webhook: WebhookConfig, pending: Pending): Promise<void> {
    pending.inFlight = true
    const attempt: WebhookAttempt = {
      updateId: pending.update.update_id,
      chatId: pending.chatId,
      ok: false,
    }
    let reply: WebhookReply | undefined
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (webhook.secretToken) headers['x-telegram-bot-api-secret-token'] = webhook.secretToken
      emit({ kind: 'update', value: pending.update })
      const res = await fetch(webhook.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(pending.update),
        signal: AbortSignal.timeout(this.#options.webhookTimeoutMs),
      })
      const text = await res.text()
      attempt.status = res.status
      if (res.ok) {
        attempt.ok = true
        reply = parseWebhookReply(text)
      } else {
        attempt.error = `Wrong response from the webhook: ${res.status} ${res.statusText}`
      }
    } catch (error) {
      attempt.error = describeNetworkError(error)
    }
    pending.inFlight = false
    if (this.#closed) return
    this.attempts.push(attempt)
    if (attempt.ok) {
      this.#queue = this.#queue.filter((p) => p !== pending)
      if (reply) this.#onWebhookReply(reply)
    } else {
      this.#lastError = { date: this.#clock.unixTime(), message: attempt.error ?? 'unknown error' }
      pending.attempts++
      const delay = Math.min(
        this.#options.retryBaseDelayMs * 2 ** (pending.attempts - 1),
        this.#options.retryMaxDelayMs,
      )
      pending.retryTimer = setTimeout(() => {
        pending.retryTimer = undefined
        this.#pump()
      }, delay)
    }
    this.#pump()
  }
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return `Connection failed: ${String(error)}`
  if (error.name === 'TimeoutError') return 'Connection timed out'
  const cause = isRecord(error.cause) ? error.cause : undefined
  if (cause?.code === 'ECONNREFUSED') return 'Connection refused'
  const detail = typeof cause?.message === 'string' ? cause.message : error.message
  return `Connection failed: ${detail}`
}

function parseWebhookReply(text: string): WebhookReply | undefined {
  if (!text) return undefined
  try {
    const body: unknown = JSON.parse(text)
    if (!isRecord(body) || typeof body.method !== 'string') return undefined
    const { method, ...params } = body
    return { method, params }
  } catch {
    return undefined
  }
}
