import type { Tx } from '@e-stars/db'
import type { LockedCustomer } from '../ledger/customers.ts'
import { appendEntry } from '../ledger/entries.ts'
import type { EntryFacts } from '../ledger/held.ts'
import { allocate, debit, liveLots, total } from '../ledger/lots.ts'

/**
 * What happens when metered work costs more than its hold and the customer cannot pay the
 * difference (issue 19): `cap` keeps the work within what can be paid (the reservation shrinks
 * to it and the caller caps the model there), `debt` makes the unpaid part a debt the next
 * purchase repays first, `absorb` books it as the operator's loss. Whatever the policy, every
 * shortfall is one `shortfall` ledger entry, so no unpaid work is ever invisible.
 */
export type OveragePolicy = 'cap' | 'debt' | 'absorb'

export const OVERAGE_POLICIES: readonly OveragePolicy[] = ['cap', 'debt', 'absorb']

/** The shortfall of one settlement, as the ledger records it and the caller reports it. */
export interface OverageOutcome {
  policy: OveragePolicy
  /** Units done beyond what was paid (the free allowance's and the credits' share). */
  units: number
  /** Credits the work cost beyond what was paid at settle. */
  credits: number
  /** Of those, credits taken from the balance after all (the `debt` policy spends what there is first). */
  paid: number
  /** Credits now owed (`debt`). */
  debt: number
  /** Credits the operator loses (`cap` when the work ran past its cap anyway, `absorb`). */
  absorbed: number
  /** The `shortfall` ledger entry. */
  entryId: number
}

/** Units `credits` credits pay for at the feature's price (the inverse of `creditsFor`, rounded down). */
export function unitsFor(feature: { credits: number; perUnits: number }, credits: number): number {
  if (feature.credits === 0) return Number.MAX_SAFE_INTEGER
  const units = (BigInt(credits) * BigInt(feature.perUnits)) / BigInt(feature.credits)
  return units > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(units)
}

/**
 * The `cap` policy at reserve: the most units the customer can pay for now, the free allowance
 * first, within `[minQuantity, quantity]`; null when even `minQuantity` cannot be paid (the
 * reserve is refused as before).
 */
export function cappedQuantity(
  feature: { credits: number; perUnits: number },
  request: { quantity: number; minQuantity: number },
  freeRoom: number,
  available: number,
): number | null {
  const affordable = Math.min(request.quantity, freeRoom + unitsFor(feature, available))
  return affordable >= request.minQuantity ? affordable : null
}

/**
 * Writes the shortfall of a settlement under the project's policy, in the settlement's
 * transaction (the caller holds the customer lock): `debt` spends what the balance still holds
 * and owes the rest; `cap` and `absorb` move no credits and record the loss.
 */
export async function recordShortfall(
  tx: Tx,
  customer: LockedCustomer,
  shortfall: { policy: OveragePolicy; units: number; credits: number; now: Date },
  facts: EntryFacts,
): Promise<OverageOutcome> {
  const { policy, units, credits, now } = shortfall
  let paid: ReturnType<typeof allocate> = []
  if (policy === 'debt' && customer.available > 0) {
    paid = allocate(await liveLots(tx, customer, now), Math.min(customer.available, credits))
  }
  const debt = policy === 'debt' ? credits - total(paid) : 0
  const absorbed = policy === 'debt' ? 0 : credits
  const after = await appendEntry(tx, customer, {
    kind: 'shortfall',
    amount: -total(paid),
    debtChange: debt,
    lots: debit(paid),
    reason: `${facts.reason} (overage: ${policy})`,
    actor: facts.actor,
    idempotencyKey: facts.idempotencyKey,
    usage: facts.usage,
    now,
    metadata: {
      ...facts.metadata,
      policy,
      unpaidUnits: units,
      unpaidCredits: credits,
      paid: total(paid),
      debt,
      absorbed,
    },
  })
  return { policy, units, credits, paid: total(paid), debt, absorbed, entryId: after.entryId }
}
