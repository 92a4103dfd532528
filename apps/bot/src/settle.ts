import { billingErrorOf, type RouterInputs, type RouterOutputs } from '@e-stars/api/client'
import type { BotContext } from './context.ts'

type SettleInput = RouterInputs['usage']['settleFeature']
type Settlement = RouterOutputs['usage']['settleFeature']

/** Settle retries after a delivered answer, same key each time (a replay, never a second charge). */
export const SETTLE_RETRY_DELAYS_MS = [250, 1000, 3000]

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Settles work the user already has (an answer, a picture), retrying a failure with the same
 * idempotency key and the same input, so a blip between the bot and e-Stars does not leave the
 * hold to expire into a free answer. A refusal is not retried: the same request gets the same
 * answer. Null (logged) when every attempt failed.
 */
export async function settleDelivered(
  ctx: BotContext,
  input: SettleInput,
  delays: readonly number[] = SETTLE_RETRY_DELAYS_MS,
): Promise<Settlement | null> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await ctx.billing.client.usage.settleFeature.mutate(input)
    } catch (error) {
      const delay = delays[attempt]
      if (delay === undefined || billingErrorOf(error)) {
        ctx.logger.error(
          {
            updateId: ctx.update.update_id,
            telegramUserId: ctx.from?.id,
            reservationId: input.reservationId,
            quantity: input.quantity,
            attempts: attempt + 1,
            err: String(error),
          },
          'settling delivered work failed; the hold stays until it expires',
        )
        return null
      }
      await sleep(delay)
    }
  }
}
