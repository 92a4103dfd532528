import type { Tx } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import type { UsageRecord } from '../margin/usage.ts'
import type { LockedCustomer } from './customers.ts'
import { appendEntry, type BalanceAfter, type EntryKind } from './entries.ts'
import { type Allocation, returnToLots, total } from './lots.ts'

/** Credits set aside by a hold, with the lots they came from. */
export interface HeldCredits {
  id: string
  amount: number
  allocations: Allocation[]
}

export interface EntryFacts {
  reason: string
  actor: string
  idempotencyKey: string | null
  metadata: Record<string, unknown>
  /** The metered act's usage record (issue 14): its entry carries the cost. */
  usage?: UsageRecord | undefined
}

export async function closeHold(
  tx: Tx,
  projectId: string,
  holdId: string,
  status: 'settled' | 'released' | 'expired',
  charged: number,
  now: Date,
) {
  await tx.execute(
    sql`update holds set status = ${status}, settled_amount = ${charged}, closed_at = ${now.toISOString()}::timestamptz
        where project_id = ${projectId} and id = ${holdId}`,
  )
}

/**
 * The release rule, in one place for a release, a feature reservation's release and a hold that
 * expired unsettled: every held credit goes back to the lot it came from (debt first), the hold
 * closes, one entry says so. The caller holds the customer lock and has checked the hold is active.
 */
export async function releaseHeldCredits(
  tx: Tx,
  customer: LockedCustomer,
  hold: HeldCredits,
  close: { kind: Extract<EntryKind, 'release' | 'hold_expire'>; now: Date },
  facts: EntryFacts,
): Promise<{ returned: number; repaid: number; after: BalanceAfter }> {
  const { returned, expired, repaid } = await returnToLots(
    tx,
    customer,
    hold.allocations,
    close.now,
  )
  const status = close.kind === 'release' ? 'released' : 'expired'
  await closeHold(tx, customer.projectId, hold.id, status, 0, close.now)
  const after = await appendEntry(tx, customer, {
    kind: close.kind,
    amount: total(returned),
    heldChange: -hold.amount,
    debtChange: -repaid,
    lots: returned,
    holdId: hold.id,
    reason: facts.reason,
    actor: facts.actor,
    idempotencyKey: facts.idempotencyKey,
    metadata: { ...facts.metadata, lostWithExpiredLots: expired, ...(repaid ? { repaid } : {}) },
  })
  return { returned: total(returned), repaid, after }
}

/** jsonb arrives parsed from both drivers; guard against a string from older rows. */
export function parseAllocations(value: unknown): Allocation[] {
  const list = typeof value === 'string' ? (JSON.parse(value) as unknown) : value
  return (list as Array<{ lotId: number | string; amount: number | string }>).map((a) => ({
    lotId: Number(a.lotId),
    amount: Number(a.amount),
  }))
}
