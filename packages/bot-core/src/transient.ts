/**
 * Whether a failed call to e-Stars may succeed if tried again: no answer at all (refused,
 * reset, timed out), a 5xx or a 429. A 4xx (bad input, conflict, not found, insufficient
 * credits) is an answer, and asking again gets the same one.
 */
export function isTransient(error: unknown): boolean {
  // By name, not instanceof: the bot may hold its own copy of @trpc/client.
  if (error instanceof Error && error.name === 'TRPCClientError') {
    const { data, shape } = error as { data?: { httpStatus?: number }; shape?: unknown }
    const status = data?.httpStatus
    if (typeof status === 'number') return status >= 500 || status === 429
    return shape === undefined
  }
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError'))
    return true
  return error instanceof TypeError
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number
  baseDelayMs: number
  maxDelayMs: number
}

export const DEFAULT_RECORD_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 250, maxDelayMs: 4000 }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Runs `call` until it succeeds, fails with a non-transient error, or the attempts run out;
 * waits `baseDelayMs` doubling (capped, with jitter) between attempts. The last error is thrown.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  call: (attempt: number) => Promise<T>,
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt)
    } catch (error) {
      if (attempt >= policy.attempts || !isTransient(error)) throw error
      const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1))
      const jittered = Math.round(delay * (0.75 + Math.random() * 0.5))
      onRetry?.(error, attempt, jittered)
      await sleep(jittered)
    }
  }
}
