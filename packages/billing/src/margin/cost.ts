import { rows, type Tx } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { InvalidInput, UnpricedModel } from '../errors.ts'
import type { LockedCustomer } from '../ledger/customers.ts'
import { emitLatched } from '../ledger/events.ts'
import { priceFor } from './prices.ts'
import { costOf, normalise, storedUsage, type UsageRecord } from './usage.ts'

const TOKEN_FIELDS = [
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'reasoningTokens',
  'costMicros',
] as const

/** The engine's own guard (the API's zod schema says the same first): whole, non-negative, named. */
export function checkUsage(usage: UsageRecord): void {
  for (const field of ['provider', 'model'] as const) {
    if (typeof usage[field] !== 'string' || normalise(usage[field]) === '')
      throw new InvalidInput(`usage.${field}`, 'must be a non-empty string')
  }
  for (const field of TOKEN_FIELDS) {
    const value = usage[field]
    if (value === undefined && (field === 'inputTokens' || field === 'outputTokens'))
      throw new InvalidInput(`usage.${field}`, 'is required')
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0))
      throw new InvalidInput(`usage.${field}`, 'must be a whole number, 0 or more')
  }
  if ((usage.cachedInputTokens ?? 0) > usage.inputTokens)
    throw new InvalidInput('usage.cachedInputTokens', 'must not exceed inputTokens')
  if ((usage.reasoningTokens ?? 0) > usage.outputTokens)
    throw new InvalidInput('usage.reasoningTokens', 'must not exceed outputTokens')
}

export interface ActCost {
  /** Null when the model is unpriced and the project records it anyway. */
  costMicros: number | null
  usage: Record<string, unknown>
}

/**
 * The cost of one metered act: the caller's `costMicros` (the provider's own figure) when given,
 * else the price book / shipped default. An unpriced model follows the project's policy:
 * `refuse` throws `UNPRICED_MODEL`; `flag` records the act with `usage.unpriced` and no cost, and
 * raises `margin.unpriced_model` once per customer and model.
 */
export async function costOfAct(
  tx: Tx,
  customer: LockedCustomer,
  usage: UsageRecord,
): Promise<ActCost> {
  checkUsage(usage)
  if (usage.costMicros !== undefined)
    return { costMicros: usage.costMicros, usage: storedUsage(usage, false) }
  const price = await priceFor(tx, customer.projectId, usage.provider, usage.model)
  if (price) return { costMicros: costOf(price, usage), usage: storedUsage(usage, false) }
  const [project] = await rows<{ unpriced_model_policy: string }>(
    tx,
    sql`select unpriced_model_policy from projects where id = ${customer.projectId}`,
  )
  const provider = normalise(usage.provider)
  const model = normalise(usage.model)
  if (project?.unpriced_model_policy === 'refuse') throw new UnpricedModel(provider, model)
  await emitLatched(tx, {
    projectId: customer.projectId,
    customerId: customer.id,
    condition: `unpriced:${provider}/${model}`,
    windowKey: 'once',
    type: 'margin.unpriced_model',
    payload: { provider, model, telegramUserId: customer.telegramUserId },
  })
  return { costMicros: null, usage: storedUsage(usage, true) }
}
