import { MarginFloorBreached } from '../errors.ts'
import type { ModelPrice } from './usage.ts'
import { costOf } from './usage.ts'

/**
 * The margin floor of a feature, at reserve: the expected cost of the call may be at most the
 * value of the credits held × (1 − floor). Given the prompt's tokens, the largest output that keeps
 * the floor is solved exactly (integers; `costOf` rounds up, so the answer is checked once).
 */
export interface MarginFloorInput {
  /** The feature's floor, 0–100 %. */
  floorPercent: number
  /** What the held credits are worth (micro-USD, see `valueMoved`). */
  heldValueMicros: number
  price: ModelPrice
  inputTokens: number
  cachedInputTokens?: number
}

/** The largest `maxTokens` of output whose cost keeps the floor, or -1 when even 0 output breaks it. */
export function marginFloorMaxTokens(input: MarginFloorInput): number {
  // cost × 100 ≤ held × (100 − floor) ⇔ cost ≤ allowed (cost is whole micro-USD), and
  // cost = ceil((inputPicos + output × rate) / 10⁶) ≤ allowed ⇔ inputPicos + output × rate ≤ allowed × 10⁶.
  const allowed = (BigInt(input.heldValueMicros) * BigInt(100 - input.floorPercent)) / 100n
  const cached = BigInt(Math.min(input.cachedInputTokens ?? 0, input.inputTokens))
  const fresh = BigInt(input.inputTokens) - cached
  const inputPicos =
    fresh * BigInt(input.price.inputPerMillionMicros) +
    cached * BigInt(input.price.cachedInputPerMillionMicros ?? input.price.inputPerMillionMicros)
  const room = allowed * 1_000_000n - inputPicos
  if (room < 0n) return -1
  const rate = BigInt(input.price.outputPerMillionMicros)
  if (rate === 0n) return Number.MAX_SAFE_INTEGER
  const output = room / rate
  return output > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(output)
}

export interface MarginFloorCheck extends MarginFloorInput {
  feature: string
  /** The output the caller asked for; absent: no limit asked. */
  requestedMaxTokens?: number
  /** `cap` returns the largest keeping maxTokens; `refuse` throws when the request does not fit. */
  mode: 'cap' | 'refuse'
}

/**
 * Applies the floor: returns the `maxTokens` to pass to the model call (the request, or less), or
 * throws `MARGIN_FLOOR_BREACHED` when no output keeps it (or, in `refuse` mode, the request does not).
 */
export function checkMarginFloor(input: MarginFloorCheck): {
  maxTokens: number | null
  capped: boolean
} {
  const allowed = marginFloorMaxTokens(input)
  const requested = input.requestedMaxTokens
  const breach = () =>
    new MarginFloorBreached(
      input.feature,
      input.floorPercent,
      costOf(input.price, {
        provider: input.price.provider,
        model: input.price.model,
        inputTokens: input.inputTokens,
        outputTokens: requested ?? 0,
        cachedInputTokens: input.cachedInputTokens ?? 0,
      }),
      input.heldValueMicros,
    )
  if (allowed < 1) throw breach()
  if (requested === undefined)
    return {
      maxTokens: allowed === Number.MAX_SAFE_INTEGER ? null : allowed,
      capped: allowed !== Number.MAX_SAFE_INTEGER,
    }
  if (requested <= allowed) return { maxTokens: requested, capped: false }
  if (input.mode === 'refuse') throw breach()
  return { maxTokens: allowed, capped: true }
}
