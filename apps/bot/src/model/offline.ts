import { countTokens, truncateToTokens } from './tokenizer.ts'
import {
  type ChatModel,
  type Completion,
  priceTokens,
  SYSTEM_PROMPT,
  type TokenPrice,
} from './types.ts'

const SENTENCES = [
  'Here is the short version: start small, measure, then improve what the numbers point at.',
  'A good first step is to write the question down in one sentence; the answer often follows.',
  'If two options look equal, pick the one that is easier to undo.',
  'Most problems get simpler when you split them into parts you can check one at a time.',
  'Try it on a tiny example first; it is cheaper to be wrong there.',
  'Keep notes of what you tried, so the next attempt starts where this one ended.',
  'When in doubt, ask the person who will use the result what they need from it.',
  'The fastest way to learn the shape of a thing is to draw it.',
  'Write the test before the fix, then watch it fail for the right reason.',
  'Numbers you can explain beat numbers that look good.',
  'A checklist turns a hard-won lesson into a habit.',
  'Small steps you can verify add up faster than big leaps you cannot.',
]

/** FNV-1a: the same prompt always picks the same answer. */
function hash(text: string): number {
  let h = 0x811c9dc5
  for (const ch of text) {
    h ^= ch.codePointAt(0) ?? 0
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

export interface OfflineModelOptions {
  /** The answer's cap in tokens (what `estimate` adds to the prompt). Default 120. */
  maxTokens?: number
  /**
   * What the operator is taken to pay per million tokens. It costs nothing to run, so the
   * default is a small hosted model's list price (0.15 USD in, 0.60 USD out per million), so the
   * margin views show a believable cost. Reported as the call's `costMicros`.
   */
  price?: TokenPrice
}

export const OFFLINE_MODEL_PRICE: TokenPrice = {
  inputPerMillionMicros: 150_000,
  outputPerMillionMicros: 600_000,
}

/**
 * The default model: no network, deterministic, and honest about tokens (it counts its prompt
 * and its answer with the o200k encoding the OpenAI-compatible model estimates with). Answers
 * are canned advice chosen by the prompt's hash, clearly labelled, so the metering can be seen working without an API key.
 */
export function createOfflineModel(options: OfflineModelOptions = {}): ChatModel {
  const maxTokens = options.maxTokens ?? 120
  const price = options.price ?? OFFLINE_MODEL_PRICE
  return {
    name: 'offline',
    // The price book does not know it: it states its own price, so the reserve can carry the
    // expected cost (and the cost caps stop a heavy user) and each answer reports its cost.
    provider: 'e-stars',
    price,
    maxTokens,
    estimate: (prompt) => countTokens(`${SYSTEM_PROMPT}\n${prompt}`) + maxTokens,
    async complete(prompt, callOptions = {}): Promise<Completion> {
      const cap = Math.min(maxTokens, callOptions.maxTokens ?? maxTokens)
      const h = hash(prompt.trim().toLowerCase())
      const count = 2 + (h % 3)
      const picked = Array.from(
        { length: count },
        (_, i) => SENTENCES[(h + i * 7) % SENTENCES.length],
      )
      const topic =
        [...prompt.trim()].slice(0, 60).join('') + ([...prompt.trim()].length > 60 ? '…' : '')
      const full = `(offline model) About “${topic}”: ${picked.join(' ')}`
      const text = truncateToTokens(full, cap)
      const promptTokens = countTokens(`${SYSTEM_PROMPT}\n${prompt}`)
      const completionTokens = countTokens(text)
      return {
        text,
        model: 'offline',
        usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens },
        record: {
          provider: 'e-stars',
          model: 'offline',
          inputTokens: promptTokens,
          outputTokens: completionTokens,
          costMicros: priceTokens(price, promptTokens, completionTokens),
        },
      }
    },
  }
}
