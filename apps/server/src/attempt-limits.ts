import {
  ATTEMPT_LIMITS,
  type AttemptCounter,
  type AttemptLimit,
  type AttemptLimits,
} from '@e-stars/api'
import { type Db, rateLimits } from '@e-stars/db'
import { RateLimiterDrizzle, RateLimiterRes } from 'rate-limiter-flexible'

/**
 * The API's attempt limits, counted by rate-limiter-flexible in the `rate_limits` table: one
 * atomic upsert per count, so every replica (and the embedded PGlite) shares the same counters.
 * Expired counters are deleted by the sessions job (`purgeOperatorSessions`), not by a timer of
 * the library's own.
 */
export function createAttemptLimits(db: Db): AttemptLimits {
  const entries = Object.entries(ATTEMPT_LIMITS).map(([name, limit]) => [
    name,
    counterFor(db, name, limit),
  ])
  return Object.fromEntries(entries) as AttemptLimits
}

function counterFor(db: Db, name: string, limit: AttemptLimit): AttemptCounter {
  const limiter = new RateLimiterDrizzle({
    storeClient: db,
    schema: rateLimits,
    keyPrefix: name,
    points: limit.points,
    duration: limit.durationSeconds,
    clearExpiredByTimeout: false,
  })
  return {
    async take(key) {
      try {
        await limiter.consume(key)
        return null
      } catch (error) {
        // The library rejects with its result when over the limit, with the error otherwise.
        if (error instanceof RateLimiterRes)
          return Math.max(1, Math.ceil(error.msBeforeNext / 1000))
        throw error
      }
    },
    async giveBack(key) {
      await limiter.reward(key)
    },
    async clear(key) {
      await limiter.delete(key)
    },
  }
}
