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
  /** The answer's cap in tokens; `estimate` minus it is what the prompt is taken to cost. */
  readonly maxTokens: number
  /** The most this prompt can use (prompt tokens + the answer's cap): the amount reserved. */
  estimate(prompt: string): number
  complete(prompt: string, options?: CompleteOptions): Promise<Completion>
}

export const SYSTEM_PROMPT =
  'You are a helpful assistant inside a Telegram bot. Answer briefly and clearly.'
