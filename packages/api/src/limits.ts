import { TooManyLoginAttempts } from '@e-stars/billing'
import { TRPCError } from '@trpc/server'

/** How many attempts a key may make in a window that opens at its first attempt. */
export interface AttemptLimit {
  points: number
  durationSeconds: number
}

/**
 * Every limit on attempts made before authentication, in one table. An attempt counts when it is
 * made and is given back when it succeeds, so in effect these count refusals: a customer who
 * signs in every time never meets them, however many share their address.
 */
export const ATTEMPT_LIMITS = {
  /** Refused Mini App sign-ins from one address (an IPv6 address counts by its /64). */
  miniAppSignInPerIp: { points: 30, durationSeconds: 60 },
  /** Refused Mini App sign-ins into one project id, from every address together. */
  miniAppSignInPerProject: { points: 300, durationSeconds: 60 },
  /** Failed console logins of one email. */
  consoleLoginPerEmail: { points: 5, durationSeconds: 15 * 60 },
  /** Failed console logins from one address, whatever the email. */
  consoleLoginPerIp: { points: 20, durationSeconds: 15 * 60 },
} as const satisfies Record<string, AttemptLimit>

export type LimitName = keyof typeof ATTEMPT_LIMITS

/**
 * One limit's counters, shared by every replica (apps/server keeps them with
 * rate-limiter-flexible in the `rate_limits` table). Plain promises, so the API holds no library.
 */
export interface AttemptCounter {
  /** Counts one attempt against `key`: null while within the limit, else seconds until it lifts. */
  take(key: string): Promise<number | null>
  /** Takes one counted attempt back: a success (or a refused attempt) is not held against `key`. */
  giveBack(key: string): Promise<void>
  /** Forgets the key's attempts (a successful login clears its email's failures). */
  clear(key: string): Promise<void>
}

export type AttemptLimits = Record<LimitName, AttemptCounter>

/** A Mini App sign-in refused by its limits; `retryAfterSeconds` becomes `Retry-After`. */
export class SignInsLimited extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many sign-in attempts: try again in ${retryAfterSeconds} s`)
  }
}

interface Counted {
  counter: AttemptCounter
  key: string
  /** What a success does to the count: give its own attempt back, or forget them all. */
  onSuccess: 'giveBack' | 'clear'
}

/**
 * Runs one attempt under its limits. Counted before it runs, so parallel attempts count against
 * each other instead of all passing during a slow password hash; a refused attempt was never
 * tried and gives its counts back (the window it waits for is not extended).
 */
async function underLimits<T>(
  counted: readonly Counted[],
  attempt: () => Promise<T>,
  refusal: (retryAfterSeconds: number) => Error,
): Promise<T> {
  const waits = await Promise.all(counted.map(({ counter, key }) => counter.take(key)))
  const limited = waits.filter((wait): wait is number => wait !== null)
  if (limited.length > 0) {
    await Promise.all(counted.map(({ counter, key }) => counter.giveBack(key)))
    throw refusal(Math.max(...limited))
  }
  const result = await attempt()
  await Promise.all(
    counted.map(({ counter, key, onSuccess }) =>
      onSuccess === 'clear' ? counter.clear(key) : counter.giveBack(key),
    ),
  )
  return result
}

/** A console login under the per-email and per-address limits; refuses with TooManyLoginAttempts. */
export function limitConsoleLogin<T>(
  limits: AttemptLimits | null,
  who: { email: string; ip: string },
  attempt: () => Promise<T>,
): Promise<T> {
  if (!limits) return attempt()
  return underLimits(
    [
      {
        counter: limits.consoleLoginPerEmail,
        key: who.email.trim().toLowerCase(),
        onSuccess: 'clear',
      },
      { counter: limits.consoleLoginPerIp, key: addressKey(who.ip), onSuccess: 'giveBack' },
    ],
    attempt,
    (seconds) =>
      new TooManyLoginAttempts(new Date(Date.now() + seconds * 1000).toISOString(), seconds),
  )
}

/** A Mini App sign-in under the per-address and per-project limits: TOO_MANY_REQUESTS when over. */
export function limitMiniAppSignIn<T>(
  limits: AttemptLimits | null,
  who: { ip: string; projectId: string },
  attempt: () => Promise<T>,
): Promise<T> {
  if (!limits) return attempt()
  return underLimits(
    [
      { counter: limits.miniAppSignInPerIp, key: addressKey(who.ip), onSuccess: 'giveBack' },
      { counter: limits.miniAppSignInPerProject, key: who.projectId, onSuccess: 'giveBack' },
    ],
    attempt,
    (seconds) => {
      const limited = new SignInsLimited(seconds)
      return new TRPCError({ code: 'TOO_MANY_REQUESTS', message: limited.message, cause: limited })
    },
  )
}

/**
 * What one client is counted as: an IPv4 address as it is, an IPv6 address by its /64 (one
 * subscriber's whole prefix, which they can hop across at will), an IPv4-mapped one as IPv4.
 */
export function addressKey(ip: string): string {
  const address = ip.trim().toLowerCase().replace(/%.*$/, '')
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address)
  if (mapped) return mapped[1]!
  if (!address.includes(':')) return address
  const [head = '', tail] = address.split('::')
  const front = head === '' ? [] : head.split(':')
  const back = tail === undefined || tail === '' ? [] : tail.split(':')
  const zeros =
    tail === undefined ? [] : Array(Math.max(0, 8 - front.length - back.length)).fill('0')
  const groups = [...front, ...zeros, ...back].slice(0, 4)
  if (groups.length < 4 || groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return address
  return `${groups.map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`
}
