import { type Db, grants, type Tx } from '@e-stars/db'
import { InvalidInput } from '../errors.ts'
import { type LockedCustomer, type TelegramProfile, upsertAndLockCustomer } from './customers.ts'
import { appendEntry } from './entries.ts'
import { sweepExpired } from './expiry.ts'
import { act, requestOf } from './idempotency.ts'

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
export async function grantCredits(db: Db, input: GrantCreditsInput): Promise<GrantResult> {
  const now = input.now ?? new Date()
  if (input.expiresAt && input.expiresAt <= now) {
    throw new InvalidInput('expiresAt', 'must be in the future')
  }
  const { profile: _profile, ...request } = requestOf(input)
  return act(
    db,
    { projectId: input.projectId, key: input.idempotencyKey, operation: 'grant', request },
    (tx) => upsertAndLockCustomer(tx, input.projectId, input.telegramUserId, input.profile),
    async (tx, customer) => {
      await sweepExpired(tx, customer, now)
      const lot = await addLot(tx, customer, {
        amount: input.amount,
        source: input.source,
        reason: input.reason,
        actor: input.actor,
        idempotencyKey: input.idempotencyKey,
        priority: input.priority ?? 0,
        expiresAt: input.expiresAt ?? null,
        paymentId: input.paymentId ?? null,
        metadata: input.metadata ?? {},
        now,
      })
      return {
        grantId: lot.grantId,
        entryId: lot.after.entryId,
        amount: input.amount,
        repaid: lot.repaid,
        ...balanceOf(lot.after),
      }
    },
  )
}

export interface NewLot {
  amount: number
  source: GrantSource
  reason: string
  actor: string
  idempotencyKey?: string | null
  priority?: number
  expiresAt: Date | null
  paymentId?: number | null
  metadata: Record<string, unknown>
  now: Date
}

/**
 * The one way credits are added (grants, paid lots, renewals, positive adjustments): debt is
 * repaid first, the rest becomes a live lot, one `grant` entry says both. The caller holds the
 * customer lock.
 */
export async function addLot(tx: Tx, customer: LockedCustomer, lot: NewLot) {
  const repaid = Math.min(customer.debt, lot.amount)
  const [row] = await tx
    .insert(grants)
    .values({
      projectId: customer.projectId,
      customerId: customer.id,
      amount: lot.amount,
      remaining: lot.amount - repaid,
      source: lot.source,
      reason: lot.reason,
      priority: lot.priority ?? 0,
      expiresAt: lot.expiresAt,
      paymentId: lot.paymentId ?? null,
      closedAt: lot.amount === repaid ? lot.now : null,
    })
    .returning({ id: grants.id })
  const expiry = lot.expiresAt && lot.amount > repaid ? lot.expiresAt : null
  const after = await appendEntry(tx, customer, {
    kind: 'grant',
    amount: lot.amount - repaid,
    debtChange: -repaid,
    grantId: row!.id,
    reason: lot.reason,
    actor: lot.actor,
    idempotencyKey: lot.idempotencyKey ?? null,
    metadata: { source: lot.source, ...(repaid ? { repaid } : {}), ...lot.metadata },
    nextExpiryAt:
      expiry && (!customer.nextExpiryAt || expiry < customer.nextExpiryAt) ? expiry : undefined,
  })
  return { grantId: row!.id, repaid, after }
}

export const balanceOf = (after: { available: number; held: number; debt: number }) => ({
  available: after.available,
  held: after.held,
  debt: after.debt,
})
