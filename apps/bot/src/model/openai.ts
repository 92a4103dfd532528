import { z } from 'zod'
import { countTokens } from './tokenizer.ts'
import { type ChatModel, type Completion, SYSTEM_PROMPT } from './types.ts'

export interface OpenAiModelOptions {
  /** e.g. `https://api.openai.com/v1`, or any OpenAI-compatible server (vLLM, Ollama, LiteLLM…). */
  baseUrl: string
  apiKey?: string | undefined
  model: string
  /** The answer's cap (`max_tokens`). Default 400. */
  maxTokens?: number
  timeoutMs?: number
  fetch?: typeof fetch
}

const ChatCompletion = z.object({
  model: z.string().optional(),
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable() }) })).min(1),
  usage: z
    .object({
      prompt_tokens: z.number().int().nonnegative(),
      completion_tokens: z.number().int().nonnegative(),
      total_tokens: z.number().int().nonnegative(),
    })
    .optional(),
})

export class ModelError extends Error {
  override name = 'ModelError'
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message)
  }
}

/**
 * Any OpenAI-compatible chat-completions endpoint, over fetch. The settled amount is the
 * `usage` the server reports; a server that reports none is counted with the local tokenizer
 * (an approximation, said so in the log by the caller).
 */
export function createOpenAiModel(options: OpenAiModelOptions): ChatModel {
  const maxTokens = options.maxTokens ?? 400
  const url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`
  const doFetch = options.fetch ?? fetch
  return {
    name: options.model,
    // The vendor's tokenizer differs from ours; a 25% margin keeps the reservation above it.
    estimate: (prompt) => Math.ceil(countTokens(`${SYSTEM_PROMPT}\n${prompt}`) * 1.25) + maxTokens,
    async complete(prompt, callOptions = {}): Promise<Completion> {
      const signals = [AbortSignal.timeout(options.timeoutMs ?? 60_000)]
      if (callOptions.signal) signals.push(callOptions.signal)
      let response: Response
      try {
        response = await doFetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
          },
          body: JSON.stringify({
            model: options.model,
            max_tokens: maxTokens,
            messages: [
              { role: 'system', content: SYSTEM_PROMPT },
              { role: 'user', content: prompt },
            ],
          }),
          signal: AbortSignal.any(signals),
        })
      } catch (error) {
        throw new ModelError(
          `The model at ${options.baseUrl} did not answer: ${(error as Error).message}`,
          null,
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
      const usage = parsed.data.usage
        ? {
            promptTokens: parsed.data.usage.prompt_tokens,
            completionTokens: parsed.data.usage.completion_tokens,
            totalTokens: parsed.data.usage.total_tokens,
          }
        : (() => {
            const promptTokens = countTokens(`${SYSTEM_PROMPT}\n${prompt}`)
            const completionTokens = countTokens(text)
            return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens }
          })()
      return { text, usage, model: parsed.data.model ?? options.model }
    },
  }
}
