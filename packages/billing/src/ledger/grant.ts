import { type Db, grants, type Tx } from '@e-stars/db'
import { InvalidInput } from '../errors.ts'
import { valueRemaining } from '../margin/value.ts'
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
  /** What the lot is worth in micro-USD (a free, promo or manual grant: 0 unless given). */
  valueMicros?: number | undefined
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
  checkLotValue(input.valueMicros)
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
        valueMicros: input.valueMicros ?? 0,
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
  /**
   * The lot's value in micro-USD, snapshotted now (`lotValueOf`): recognised as revenue as its
   * credits burn. 0 (the default) for free credits.
   */
  valueMicros?: number
  now: Date
}

/** A lot's value is a whole number of micro-USD, 0 or more: a negative value must never mint revenue. */
export function checkLotValue(valueMicros: number | undefined): void {
  if (valueMicros !== undefined && (!Number.isSafeInteger(valueMicros) || valueMicros < 0))
    throw new InvalidInput('valueMicros', 'must be a whole number of micro-USD, 0 or more')
}

/**
 * The one way credits are added (grants, paid lots, renewals, positive adjustments): debt is
 * repaid first, the rest becomes a live lot, one `grant` entry says both. The caller holds the
 * customer lock.
 */
export async function addLot(tx: Tx, customer: LockedCustomer, lot: NewLot) {
  const repaid = Math.min(customer.debt, lot.amount)
  const value = lot.valueMicros ?? 0
  checkLotValue(value)
  // Credits that repay a debt pay for work already done: their value is recognised at once.
  const valueLeft = valueRemaining(value, lot.amount, lot.amount - repaid)
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
      valueMicros: value,
      valueRemainingMicros: valueLeft,
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
    revenueAdjustMicros: value - valueLeft,
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
