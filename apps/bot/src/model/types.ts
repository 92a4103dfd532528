/** Token counts as the model reports them: what the bot settles. */
export interface TokenUsage {
  promptTokens: number
  completionTokens: number
  totalTokens: number
}

/**
 * The usage record e-Stars puts on the metered act (issue 14, the engine's `UsageRecord`): what
 * the answer cost the operator. `costMicros` is the provider's own cost when it reports one (or
 * the offline model's configured price); without it e-Stars prices the tokens from the project's
 * price book. The model only returns it; the caller passes it to `meter()`.
 */
export interface UsageRecord {
  provider: string
  model: string
  inputTokens: number
  outputTokens: number
  cachedInputTokens?: number
  reasoningTokens?: number
  /** Whole micro-USD. */
  costMicros?: number
}

/** A model's price in micro-USD per million tokens (the price book's unit). */
export interface TokenPrice {
  inputPerMillionMicros: number
  outputPerMillionMicros: number
}

/** Cost in whole micro-USD, rounded up once (never under-counts), integers only. */
export function priceTokens(price: TokenPrice, inputTokens: number, outputTokens: number): number {
  const picos =
    BigInt(inputTokens) * BigInt(price.inputPerMillionMicros) +
    BigInt(outputTokens) * BigInt(price.outputPerMillionMicros)
  return Number((picos + 999_999n) / 1_000_000n)
}

/** USD as a provider reports it (a float, e.g. OpenRouter's `usage.cost`) to whole micro-USD, rounded up. */
export function usdToMicros(usd: number): number {
  // To nano-dollars first, so float noise (0.0001 × 1e6 = 100.00000000000001) does not round up.
  return Math.ceil(Math.round(usd * 1e9) / 1000)
}

export interface Completion {
  text: string
  usage: TokenUsage
  /** What to pass to `meter()` as the metered act's usage. */
  record: UsageRecord
  model: string
  /** True when the server reported no usage and the tokens were counted locally. */
  estimated?: boolean
}

export interface CompleteOptions {
  signal?: AbortSignal
  /** A lower answer cap than the model's own: what the hold can pay (see ask.ts). */
  maxTokens?: number
}

/** A chat model the bot can meter: it says up front what a prompt may cost, then what it did. */
export interface ChatModel {
  readonly name: string
  /**
   * The price book's provider of `name` (`openai`, `openrouter`, …): with it the reserve carries
   * the expected usage, so e-Stars checks cost caps and the feature's margin floor before the
   * call. Absent: the reserve carries none.
   */
  readonly provider?: string
  /**
   * The model's own price, when it reports its own cost (the offline model's configured price):
   * the reserve's expected usage then carries its `costMicros`, so the cost caps hold without a
   * price-book entry for it.
   */
  readonly price?: TokenPrice
  /** The answer's cap in tokens; `estimate` minus it is what the prompt is taken to cost. */
  readonly maxTokens: number
  /** The most this prompt can use (prompt tokens + the answer's cap): the amount reserved. */
  estimate(prompt: string): number
  complete(prompt: string, options?: CompleteOptions): Promise<Completion>
}

export const SYSTEM_PROMPT =
  'You are a helpful assistant inside a Telegram bot. Answer briefly and clearly.'
