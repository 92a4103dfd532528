import { z } from 'zod'
import { tokenizerFor } from './tokenizer.ts'
import {
  type ChatModel,
  type Completion,
  SYSTEM_PROMPT,
  type UsageRecord,
  usdToMicros,
} from './types.ts'

export interface OpenAiModelOptions {
  /** e.g. `https://api.openai.com/v1`, or any OpenAI-compatible server (vLLM, Ollama, LiteLLM…). */
  baseUrl: string
  apiKey?: string | undefined
  model: string
  /** The price book's provider name; default from the host (`openai`, `openrouter`, else the host). */
  provider?: string | undefined
  /** The answer's cap (`max_tokens`). Default 400. */
  maxTokens?: number
  /** The whole call, a retry after a 429 included. Default 25 s (MODEL_TIMEOUT_MS). */
  timeoutMs?: number
  fetch?: typeof fetch
  sleep?: (ms: number) => Promise<void>
}

export const DEFAULT_MODEL_TIMEOUT_MS = 25_000

const ChatCompletion = z.object({
  model: z.string().optional(),
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable() }) })).min(1),
  usage: z
    .object({
      prompt_tokens: z.number().int().nonnegative(),
      completion_tokens: z.number().int().nonnegative(),
      total_tokens: z.number().int().nonnegative(),
      prompt_tokens_details: z
        .object({ cached_tokens: z.number().int().nonnegative().optional() })
        .nullish(),
      completion_tokens_details: z
        .object({ reasoning_tokens: z.number().int().nonnegative().optional() })
        .nullish(),
      /** OpenRouter (and some proxies) report what the call cost, in USD. */
      cost: z.number().nonnegative().nullish(),
    })
    .optional(),
})

export class ModelError extends Error {
  override name = 'ModelError'
  constructor(
    message: string,
    readonly status: number | null,
    /** A 429 whose Retry-After did not fit the timeout: when the user may try again. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message)
  }
}

/** Retry-After as seconds (a number, or an HTTP date); null when absent or unreadable. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds))
  const at = Date.parse(header)
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000))
}

/** The provider name the price book knows a host by. */
export function providerOf(baseUrl: string): string {
  const host = URL.canParse(baseUrl) ? new URL(baseUrl).hostname : baseUrl
  if (host === 'api.openai.com') return 'openai'
  if (host.endsWith('openrouter.ai')) return 'openrouter'
  return host
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Any OpenAI-compatible chat-completions endpoint, over fetch. The settled amount is the
 * `usage` the server reports; a server that reports none is counted with the local tokenizer
 * and the completion says so (`estimated`). A 429 is retried once when its Retry-After fits the
 * timeout; otherwise the error carries when to try again.
 */
export function createOpenAiModel(options: OpenAiModelOptions): ChatModel {
  const maxTokens = options.maxTokens ?? 400
  const timeoutMs = options.timeoutMs ?? DEFAULT_MODEL_TIMEOUT_MS
  const url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`
  const doFetch = options.fetch ?? fetch
  const sleep = options.sleep ?? defaultSleep
  const tokenizer = tokenizerFor(options.model)
  const promptTokens = (prompt: string) => tokenizer.count(`${SYSTEM_PROMPT}\n${prompt}`)
  const provider = options.provider ?? providerOf(options.baseUrl)

  async function post(prompt: string, cap: number, signal: AbortSignal): Promise<Response> {
    try {
      return await doFetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
        },
        body: JSON.stringify({
          model: options.model,
          max_tokens: cap,
          messages: [
            { role: 'system', content: SYSTEM_PROMPT },
            { role: 'user', content: prompt },
          ],
        }),
        signal,
      })
    } catch (error) {
      throw new ModelError(
        `The model at ${options.baseUrl} did not answer: ${(error as Error).message}`,
        null,
      )
    }
  }

  return {
    name: options.model,
    provider,
    maxTokens,
    // The vendor's tokenizer may differ from ours; a 25% margin keeps the reservation above it.
    estimate: (prompt) => Math.ceil(promptTokens(prompt) * 1.25) + maxTokens,
    async complete(prompt, callOptions = {}): Promise<Completion> {
      const deadline = Date.now() + timeoutMs
      const signals = [AbortSignal.timeout(timeoutMs)]
      if (callOptions.signal) signals.push(callOptions.signal)
      const signal = AbortSignal.any(signals)
      const cap = Math.min(maxTokens, callOptions.maxTokens ?? maxTokens)
      let response = await post(prompt, cap, signal)
      if (response.status === 429) {
        const wait = retryAfterSeconds(response.headers.get('retry-after'))
        // One retry, and only when it can still finish inside the timeout (a second of room).
        if (wait === null || Date.now() + wait * 1000 + 1000 > deadline)
          throw new ModelError(
            `The model at ${options.baseUrl} is rate-limited (HTTP 429)`,
            429,
            wait ?? 60,
          )
        await sleep(wait * 1000)
        response = await post(prompt, cap, signal)
        if (response.status === 429)
          throw new ModelError(
            `The model at ${options.baseUrl} is still rate-limited (HTTP 429)`,
            429,
            retryAfterSeconds(response.headers.get('retry-after')) ?? 60,
          )
      }
      if (!response.ok) {
        throw new ModelError(
          `The model at ${options.baseUrl} answered HTTP ${response.status}`,
          response.status,
        )
      }
      const parsed = ChatCompletion.safeParse(await response.json().catch(() => null))
      if (!parsed.success) {
        throw new ModelError(
          `The model at ${options.baseUrl} sent an unexpected answer`,
          response.status,
        )
      }
      const text = parsed.data.choices[0]?.message.content ?? ''
      const model = parsed.data.model ?? options.model
      const reported = parsed.data.usage
      if (reported) {
        const record: UsageRecord = {
          provider,
          model,
          inputTokens: reported.prompt_tokens,
          outputTokens: reported.completion_tokens,
        }
        const cached = reported.prompt_tokens_details?.cached_tokens
        const reasoning = reported.completion_tokens_details?.reasoning_tokens
        if (cached) record.cachedInputTokens = Math.min(cached, reported.prompt_tokens)
        if (reasoning) record.reasoningTokens = Math.min(reasoning, reported.completion_tokens)
        if (typeof reported.cost === 'number') record.costMicros = usdToMicros(reported.cost)
        return {
          text,
          model,
          usage: {
            promptTokens: reported.prompt_tokens,
            completionTokens: reported.completion_tokens,
            totalTokens: reported.total_tokens,
          },
          record,
        }
      }
      const counted = { prompt: promptTokens(prompt), completion: tokenizer.count(text) }
      return {
        text,
        model,
        estimated: true,
        usage: {
          promptTokens: counted.prompt,
          completionTokens: counted.completion,
          totalTokens: counted.prompt + counted.completion,
        },
        record: {
          provider,
          model,
          inputTokens: counted.prompt,
          outputTokens: counted.completion,
        },
      }
    },
  }
}
