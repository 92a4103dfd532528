/**
 * The sandbox's notion of "now" for everything Telegram stamps with a date (messages,
 * subscription expiry, star transactions, webhook errors). It runs with real time plus an
 * offset, so `advance()` jumps forward without waiting. Timers (webhook retries, the
 * pre-checkout deadline) deliberately use real time, not this clock.
 */
export class VirtualClock {
  #offsetMs: number
  #frozenAt: number | undefined

  constructor(options: { startMs?: number; frozen?: boolean } = {}) {
    const start = options.startMs ?? Date.now()
    this.#offsetMs = start - Date.now()
    this.#frozenAt = options.frozen ? start : undefined
  }

  /** Current virtual time in unix milliseconds. */
  now(): number {
    return this.#frozenAt ?? Date.now() + this.#offsetMs
  }

  /** Current virtual time in unix seconds, as Telegram dates are. */
  unixTime(): number {
    return Math.floor(this.now() / 1000)
  }

  /** Moves virtual time forward by `ms` (never backwards). */
  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('clock can only advance by ms >= 0')
    if (this.#frozenAt !== undefined) this.#frozenAt += ms
    else this.#offsetMs += ms
    return this.now()
  }
}
