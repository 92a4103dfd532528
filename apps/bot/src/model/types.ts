/** Token counts as the model reports them: what the bot settles. */
export interface TokenUsage {
  promptTokens: number
  completionTokens: number
  totalTokens: number
}

export interface Completion {
  text: string
  usage: TokenUsage
  model: string
}

/** A chat model the bot can meter: it says up front what a prompt may cost, then what it did. */
export interface ChatModel {
  readonly name: string
  /** The most this prompt can use (prompt tokens + the answer's cap): the amount reserved. */
  estimate(prompt: string): number
  complete(prompt: string, options?: { signal?: AbortSignal }): Promise<Completion>
}

export const SYSTEM_PROMPT =
  'You are a helpful assistant inside a Telegram bot. Answer briefly and clearly.'
