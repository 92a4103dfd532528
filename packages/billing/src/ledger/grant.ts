import { type Executor, grants } from '@e-stars/db'
import { InvalidInput } from '../errors.ts'
import { type TelegramProfile, upsertAndLockCustomer } from './customers.ts'
import { appendEntry } from './entries.ts'
import { sweepExpired } from './expiry.ts'
import { idempotent } from './idempotency.ts'

export type GrantSource =
  | 'payment'
  | 'renewal'
  | 'promo'
  | 'manual'
  | 'free_allowance'
  | 'adjustment'

export interface GrantCreditsInput {
  projectId: string
  telegramUserId: number
  amount: number
  reason: string
  source: GrantSource
  idempotencyKey: string
  actor: string
  expiresAt?: Date | null | undefined
  priority?: number | undefined
  paymentId?: number | null | undefined
  profile?: TelegramProfile | undefined
  metadata?: Record<string, unknown> | undefined
  now?: Date | undefined
}

export interface GrantResult {
  grantId: number
  entryId: number
  amount: number
  /** Part of the grant that repaid an outstanding debt first. */
  repaid: number
  available: number
  held: number
  debt: number
}

/**
 * Adds a lot of credits to a customer (created if new). An outstanding debt is repaid from the
 * new lot first; the rest is available at once.
 */
export async function grantCredits(db: Executor, input: GrantCreditsInput): Promise<GrantResult> {
  const now = input.now ?? new Date()
  if (input.expiresAt && input.expiresAt <= now) {
    throw new InvalidInput('expiresAt', 'must be in the future')
  }
  const { now: _now, profile: _profile, idempotencyKey, ...request } = input
  return db.transaction((tx) =>
    idempotent(
      tx,
      { projectId: input.projectId, key: idempotencyKey, operation: 'grant', request },
      async () => {
        const customer = await upsertAndLockCustomer(
          tx,
          input.projectId,
          input.telegramUserId,
          input.profile,
        )
        await sweepExpired(tx, customer, now)
        const repaid = Math.min(customer.debt, input.amount)
        const [lot] = await tx
          .insert(grants)
          .values({
            projectId: input.projectId,
            customerId: customer.id,
            amount: input.amount,
            remaining: input.amount - repaid,
            source: input.source,
            reason: input.reason,
            priority: input.priority ?? 0,
            expiresAt: input.expiresAt ?? null,
            paymentId: input.paymentId ?? null,
            closedAt: input.amount === repaid ? now : null,
          })
          .returning({ id: grants.id })
        const expiry = input.expiresAt && input.amount > repaid ? input.expiresAt : null
        const after = await appendEntry(tx, customer, {
          kind: 'grant',
          amount: input.amount - repaid,
          debtChange: -repaid,
          grantId: lot!.id,
          reason: input.reason,
          actor: input.actor,
          idempotencyKey,
          metadata: { source: input.source, ...(repaid ? { repaid } : {}), ...input.metadata },
          nextExpiryAt:
            expiry && (!customer.nextExpiryAt || expiry < customer.nextExpiryAt)
              ? expiry
              : undefined,
        })
        return {
          grantId: lot!.id,
          entryId: after.entryId,
          amount: input.amount,
          repaid,
          ...balanceOf(after),
        }
      },
    ),
  )
}

export const balanceOf = (after: { available: number; held: number; debt: number }) => ({
  available: after.available,
  held: after.held,
  debt: after.debt,
})
