import type { Db, Tx } from '@e-stars/db'
import { CostCapReached } from '../errors.ts'
import { emitLatched } from '../ledger/events.ts'
import { customerIdOf } from '../ledger/lookup.ts'
import { transact } from '../ledger/transaction.ts'

/**
 * A credit-level consume refused by a cost cap: its `cost_cap.reached` event, written in a short
 * transaction of its own after the refusal (the refusal stands if it cannot be written).
 */
export async function reportCostCapRefusal(
  db: Db,
  input: { projectId: string; telegramUserId: number },
  error: unknown,
): Promise<unknown> {
  if (!(error instanceof CostCapReached)) return error
  try {
    await transact(db, async (tx) => {
      const id = await customerIdOf(tx, input.projectId, input.telegramUserId)
      await emitCostCapReached(tx, { projectId: input.projectId, id }, error, null)
    })
  } catch {
    // As for quotas: the refusal is what the caller needs.
  }
  return error
}

/** One `cost_cap.reached` per cap and period for a customer (latched), written after the refusal. */
export async function emitCostCapReached(
  tx: Tx,
  customer: { projectId: string; id: number },
  error: CostCapReached,
  featureKey: string | null,
) {
  await emitLatched(tx, {
    projectId: customer.projectId,
    customerId: customer.id,
    condition: `cost_cap:${error.capId}`,
    windowKey: error.resetsAt,
    type: 'cost_cap.reached',
    payload: {
      capId: error.capId,
      scope: error.scope,
      period: error.period,
      capMicros: error.capMicros,
      spentMicros: error.spentMicros,
      requestedMicros: error.requestedMicros,
      resetsAt: error.resetsAt,
      feature: featureKey,
    },
  })
}
