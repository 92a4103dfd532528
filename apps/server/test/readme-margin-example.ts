/**
 * The README's "Margin control" example, verbatim between the markers: tsc checks it here
 * (`tsc -p apps/server`), and readme-margin.test.ts checks the README still says exactly this and
 * runs it against a real server. `console` is the operator's console session (the margin
 * procedures are console procedures); `client` is the bot's API-key client.
 */
import type { AppRouter } from '@e-stars/api'
import type { createEStarsClient } from '@e-stars/api/client'
import type { TRPCClient } from '@trpc/client'

// biome-ignore format: the README's text, verbatim
export async function marginControlExample(
  console: TRPCClient<AppRouter>,
  client: ReturnType<typeof createEStarsClient>,
  projectId: string,
  telegramUserId: number,
  idempotencyKey: string,
) {
// README: begin
// 1. The price book (micro-USD per million tokens), once, from the console or the API:
await console.margin.setPrice.mutate({ projectId, provider: 'openai', model: 'gpt-4o-mini',
  inputPerMillionMicros: 150_000, outputPerMillionMicros: 600_000 })
// 2. A call: the usage record goes with the consumption (the bot's models return it for meter()).
await client.usage.consumeFeature.mutate({ telegramUserId, feature: 'ai.tokens', quantity: 1_200,
  idempotencyKey, usage: { provider: 'openai', model: 'gpt-4o-mini', inputTokens: 1_000, outputTokens: 200 } })
// 3. A cap: at most 0.50 USD of cost per customer per day; the next call past it is refused
//    with COST_CAP_REACHED and resetsAt.
await console.margin.addCap.mutate({ projectId, scope: 'project', period: 'day', capMicros: 500_000 })
// README: end
}
