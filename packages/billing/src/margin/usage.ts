/**
 * The usage record a metered act may carry, and the one cost rule: tokens × the price book's
 * micro-USD per million tokens. Integers only: a price is micro-USD per million tokens, so the
 * exact cost is a whole number of pico-dollars, rounded up once to the micro-dollar (the operator
 * never under-counts a cost).
 */
export interface UsageRecord {
  provider: string
  model: string
  /** All input tokens, cached ones included (the OpenAI convention). */
  inputTokens: number
  /** Output tokens, reasoning tokens included (the OpenAI convention). */
  outputTokens: number
  /** The part of `inputTokens` read from the provider's cache, priced at the cached rate. */
  cachedInputTokens?: number
  /** The part of `outputTokens` spent reasoning: recorded, priced as output. */
  reasoningTokens?: number
  /** The provider's own cost when the response carries one (e.g. OpenRouter's `usage.cost`). */
  costMicros?: number
}

/** One model's prices, micro-USD per million tokens. */
export interface ModelPrice {
  provider: string
  model: string
  inputPerMillionMicros: number
  outputPerMillionMicros: number
  /** Null: cached input is priced as input. */
  cachedInputPerMillionMicros: number | null
  /** `book` (the project's entry) or `default` (shipped offline with the package). */
  source: 'book' | 'default'
}

/** The cost of `usage` at `price`, in whole micro-USD, rounded up. */
export function costOf(price: ModelPrice, usage: UsageRecord): number {
  const cached = BigInt(Math.min(usage.cachedInputTokens ?? 0, usage.inputTokens))
  const fresh = BigInt(usage.inputTokens) - cached
  const cachedRate = BigInt(price.cachedInputPerMillionMicros ?? price.inputPerMillionMicros)
  const picos =
    fresh * BigInt(price.inputPerMillionMicros) +
    cached * cachedRate +
    BigInt(usage.outputTokens) * BigInt(price.outputPerMillionMicros)
  return Number((picos + 999_999n) / 1_000_000n)
}

/** The record as stored on the entry: provider/model normalised, `unpriced` when no price was found. */
export function storedUsage(usage: UsageRecord, unpriced: boolean): Record<string, unknown> {
  return {
    provider: normalise(usage.provider),
    model: normalise(usage.model),
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    ...(usage.cachedInputTokens !== undefined
      ? { cachedInputTokens: usage.cachedInputTokens }
      : {}),
    ...(usage.reasoningTokens !== undefined ? { reasoningTokens: usage.reasoningTokens } : {}),
    ...(usage.costMicros !== undefined ? { costMicros: usage.costMicros } : {}),
    ...(unpriced ? { unpriced: true } : {}),
  }
}

export const normalise = (name: string) => name.trim().toLowerCase()
