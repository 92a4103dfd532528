import { type Executor, rows, type Tx } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import type { LockedCustomer } from '../ledger/customers.ts'

/**
 * Revenue recognition, one rule: a lot of `amount` credits worth `value` micro-USD has recognised
 * floor(value × spent / amount) once `spent` of its credits have left it, so its unrecognised
 * value is a function of `remaining` alone:
 *
 *   valueRemaining = value − floor(value × (amount − remaining) / amount)
 *
 * Every credit taken out moves the difference; the lot's last credit takes all of what is left
 * (floor(value × amount / amount) = value), and credits put back (a release, a settle's unspent
 * part) move it back — so recognised revenue + unspent value = lot value, to the micro-dollar,
 * whatever the order of takes and returns.
 */
export function valueRemaining(value: number, amount: number, remaining: number): number {
  if (amount <= 0) return 0
  return value - Number((BigInt(value) * BigInt(amount - remaining)) / BigInt(amount))
}

/** The same, as SQL over a `grants` row `g` whose remaining becomes `remainingAfter`. */
export const valueRemainingSql = (remainingAfter: ReturnType<typeof sql>) =>
  sql`(g.value_micros - div(g.value_micros::numeric * (g.amount - (${remainingAfter})), g.amount)::int8)`

export interface LotValueRow {
  id: number
  amount: number
  remaining: number
  valueMicros: number
}

/** The lots' amounts and values, for the lots an entry changes. The caller holds the customer lock. */
export async function lotValues(
  tx: Tx,
  customer: LockedCustomer,
  lotIds: number[],
): Promise<Map<number, LotValueRow>> {
  if (lotIds.length === 0) return new Map()
  const found = await rows<{ id: string; amount: string; remaining: string; value_micros: string }>(
    tx,
    sql`select id, amount, remaining, value_micros from grants
        where project_id = ${customer.projectId} and customer_id = ${customer.id}
          and id in (${sql.join(
            lotIds.map((id) => sql`${id}::int8`),
            sql`, `,
          )})`,
  )
  return new Map(
    found.map((l) => [
      Number(l.id),
      {
        id: Number(l.id),
        amount: Number(l.amount),
        remaining: Number(l.remaining),
        valueMicros: Number(l.value_micros),
      },
    ]),
  )
}

/**
 * The value that leaves the lots when `changes` apply (positive: taken out; negative: put back).
 * Changes to one lot apply in order.
 */
export function valueMoved(
  lots: Map<number, LotValueRow>,
  changes: ReadonlyArray<{ lotId: number; amount: number }>,
): number {
  const remaining = new Map<number, number>()
  let moved = 0
  for (const change of changes) {
    const lot = lots.get(change.lotId)
    if (!lot) continue
    const before = remaining.get(lot.id) ?? lot.remaining
    const after = before + change.amount
    moved +=
      valueRemaining(lot.valueMicros, lot.amount, before) -
      valueRemaining(lot.valueMicros, lot.amount, after)
    remaining.set(lot.id, after)
  }
  return moved
}

/**
 * A lot's value when it is created, in micro-USD: what the operator says (`valueMicros`), else
 * for a payment net Stars × the project's USD-per-Star rate (net nanostars when Telegram reported
 * them, else the Stars paid), else 0 — a free, promo or manual grant earns nothing unless valued.
 */
export function lotValueOf(input: {
  valueMicros?: number | null | undefined
  usdPerStarMicros?: number | undefined
  netNanostars?: bigint | number | null | undefined
  amountStars?: number | null | undefined
}): number {
  if (input.valueMicros !== undefined && input.valueMicros !== null) return input.valueMicros
  const rate = BigInt(input.usdPerStarMicros ?? 0)
  if (input.netNanostars !== undefined && input.netNanostars !== null)
    return Number((BigInt(input.netNanostars) * rate) / 1_000_000_000n)
  if (input.amountStars) return Number(BigInt(input.amountStars) * rate)
  return 0
}

/**
 * A paid lot's value (a pack, or a subscription period's allowance: the plan's price for its
 * credits): the payment's net Stars × the project's USD-per-Star rate, in micro-USD. Read in the
 * payment's own transaction, after the payment row is written.
 */
export async function paidLotValue(
  db: Executor,
  projectId: string,
  paymentId: number | null,
): Promise<number> {
  if (paymentId === null) return 0
  const [found] = await rows<{ net: string | null; stars: string; rate: string }>(
    db,
    sql`select p.net_nanostars as net, p.amount_stars as stars, pr.usd_per_star_micros as rate
        from payments p join projects pr on pr.id = p.project_id
        where p.project_id = ${projectId} and p.id = ${paymentId}`,
  )
  if (!found) return 0
  return lotValueOf({
    usdPerStarMicros: Number(found.rate),
    netNanostars: found.net === null ? null : BigInt(found.net),
    amountStars: Number(found.stars),
  })
}

/**
 * What credits about to be taken from the lots are worth (micro-USD): the value a reserve would
 * defer, for the margin floor (`checkMarginFloor`'s `heldValueMicros`). Call it before the hold's
 * entry is written; the caller holds the customer lock.
 */
export async function valueOfAllocations(
  tx: Tx,
  customer: LockedCustomer,
  allocations: ReadonlyArray<{ lotId: number; amount: number }>,
): Promise<number> {
  const taken = allocations.map((a) => ({ lotId: a.lotId, amount: -a.amount }))
  return valueMoved(
    await lotValues(
      tx,
      customer,
      taken.map((a) => a.lotId),
    ),
    taken,
  )
}
