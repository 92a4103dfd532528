import type { Db } from '@e-stars/db'
import { InvalidInput } from '../errors.ts'
import { recordAudit } from '../identity/audit.ts'
import { lockCustomer } from './customers.ts'
import { appendEntry } from './entries.ts'
import { sweepExpired } from './expiry.ts'
import { addLot, balanceOf } from './grant.ts'
import { act, requestOf } from './idempotency.ts'
import { debit, takeFromLots } from './lots.ts'

export interface AdjustCreditsInput {
  projectId: string
  telegramUserId: number
  /** Signed: positive grants a manual lot, negative takes credits away (never below zero). */
  amount: number
  reason: string
  /** `operator:<email>` */
  actor: string
  idempotencyKey: string
  expiresAt?: Date | null | undefined
  now?: Date | undefined
}

export interface AdjustCreditsResult {
  entryId: number
  amount: number
  available: number
  held: number
  debt: number
}

/**
 * An operator's grant (positive) or correction (negative) of a customer's credits, audited in
 * the same transaction. A negative adjustment takes from live lots in burn order and refuses
 * with `InsufficientCredits` rather than overspend.
 */
export async function adjustCredits(
  db: Db,
  input: AdjustCreditsInput,
): Promise<AdjustCreditsResult> {
  if (!Number.isSafeInteger(input.amount) || input.amount === 0)
    throw new InvalidInput('amount', 'must be a non-zero whole number')
  const now = input.now ?? new Date()
  if (input.expiresAt && input.expiresAt <= now)
    throw new InvalidInput('expiresAt', 'must be in the future')
  return act(
    db,
    {
      projectId: input.projectId,
      key: input.idempotencyKey,
      operation: 'operator_adjust',
      request: requestOf(input),
    },
    (tx) => lockCustomer(tx, input.projectId, input.telegramUserId, { allowBlocked: true }),
    async (tx, customer) => {
      await sweepExpired(tx, customer, now)
      // As the customer page shows it before this change (a grant repays debt first, so the
      // balance before is read, not worked back from the amount).
      const before = balanceOf(customer)
      const after =
        input.amount > 0
          ? (
              await addLot(tx, customer, {
                amount: input.amount,
                source: 'manual',
                reason: input.reason,
                actor: input.actor,
                idempotencyKey: input.idempotencyKey,
                expiresAt: input.expiresAt ?? null,
                metadata: {},
                now,
              })
            ).after
          : await appendEntry(tx, customer, {
              kind: 'adjust',
              amount: input.amount,
              lots: debit(await takeFromLots(tx, customer, -input.amount, now)),
              reason: input.reason,
              actor: input.actor,
              idempotencyKey: input.idempotencyKey,
            })
      const result = { entryId: after.entryId, amount: input.amount, ...balanceOf(after) }
      await recordAudit(tx, {
        projectId: input.projectId,
        actor: input.actor,
        action: input.amount > 0 ? 'credits.grant' : 'credits.adjust',
        target: `customer:${input.telegramUserId}`,
        before,
        after: {
          available: result.available,
          held: result.held,
          debt: result.debt,
          amount: input.amount,
          reason: input.reason,
          entryId: result.entryId,
          ...(input.expiresAt ? { expiresAt: input.expiresAt.toISOString() } : {}),
        },
      })
      return result
    },
  )
}
