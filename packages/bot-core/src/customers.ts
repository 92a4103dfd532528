import type { EStarsClient } from '@e-stars/client'
import type { User } from '@grammyjs/types'

/** The Telegram user fields e-Stars keeps on a customer. */
export type TelegramUserLike = Pick<User, 'id'> &
  Partial<Pick<User, 'is_bot' | 'username' | 'first_name' | 'last_name' | 'language_code'>>

const profileOf = (user: TelegramUserLike) => ({
  telegramUserId: user.id,
  username: user.username ?? null,
  firstName: user.first_name ?? null,
  lastName: user.last_name ?? null,
  languageCode: user.language_code ?? null,
})

/**
 * Upserts a customer the first time this process sees a user, and again only when the profile
 * changed, so the common update costs no call at all. Bounded: the oldest users are forgotten
 * first (forgetting costs one more upsert, never a wrong answer).
 */
export class CustomerCache {
  readonly #seen = new Map<number, string>()
  readonly #inFlight = new Map<number, Promise<void>>()

  constructor(
    private readonly client: EStarsClient,
    private readonly maxSize = 10_000,
  ) {}

  /** Resolves when the customer exists with this profile; concurrent calls for a user share one upsert. */
  ensure(user: TelegramUserLike): Promise<void> {
    const profile = profileOf(user)
    const fingerprint = JSON.stringify(profile)
    if (this.#seen.get(user.id) === fingerprint) {
      // Refresh recency: a Map iterates in insertion order, so re-inserting makes it the newest.
      this.#seen.delete(user.id)
      this.#seen.set(user.id, fingerprint)
      return Promise.resolve()
    }
    const pending = this.#inFlight.get(user.id)
    if (pending) return pending
    const call = this.client.customers.upsert
      .mutate(profile)
      .then(() => {
        this.#seen.delete(user.id)
        this.#seen.set(user.id, fingerprint)
        if (this.#seen.size > this.maxSize) {
          const oldest = this.#seen.keys().next().value
          if (oldest !== undefined) this.#seen.delete(oldest)
        }
      })
      .finally(() => this.#inFlight.delete(user.id))
    this.#inFlight.set(user.id, call)
    return call
  }

  get size() {
    return this.#seen.size
  }
}
