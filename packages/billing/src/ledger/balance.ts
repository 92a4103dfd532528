import { type Db, rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { NotFound } from '../errors.ts'
import { parseAllocations } from './held.ts'

export interface BalanceLot {
  id: number
  amount: number
  remaining: number
  source: string
  reason: string
  priority: number
  expiresAt: string | null
  createdAt: string
}

export interface BalanceHold {
  id: string
  amount: number
  reason: string
  expiresAt: string
  createdAt: string
}

export interface Balance {
  telegramUserId: number
  available: number
  held: number
  debt: number
  /** Live lots in burn order. */
  lots: BalanceLot[]
  holds: BalanceHold[]
}

/**
 * The balance as of `now`, exact to the instant: lots and holds that expired stop counting at
 * their expiry even if the expiry job has not written their entries yet. One consistent snapshot.
 */
export async function getBalance(
  db: Db,
  input: { projectId: string; telegramUserId: number; now?: Date | undefined },
): Promise<Balance> {
  const at = (input.now ?? new Date()).toISOString()
  return db.transaction(
    async (tx) => {
      const [customer] = await rows<{ id: string; debt: string }>(
        tx,
        sql`select id, debt from customers where project_id = ${input.projectId} and telegram_user_id = ${input.telegramUserId}`,
      )
      if (!customer) throw new NotFound('Customer', input.telegramUserId)
      const activeHolds = await rows<{
        id: string
        amount: string
        reason: string
        allocations: unknown
        expires_at: string
        created_at: string
      }>(
        tx,
        sql`select id, amount, reason, allocations, expires_at, created_at from holds
            where project_id = ${input.projectId} and customer_id = ${customer.id} and status = 'active'
            order by created_at`,
      )
      const instant = new Date(at)
      const liveHolds = activeHolds.filter((h) => new Date(h.expires_at) > instant)
      // Credits of holds that expired go back to their lots at the expiry instant.
      const returning = new Map<number, number>()
      for (const hold of activeHolds.filter((h) => new Date(h.expires_at) <= instant)) {
        for (const a of parseAllocations(hold.allocations)) {
          returning.set(a.lotId, (returning.get(a.lotId) ?? 0) + a.amount)
        }
      }
      const returningIds = [...returning.keys()]
      const lotRows = await rows<{
        id: string
        amount: string
        remaining: string
        source: string
        reason: string
        priority: number
        expires_at: string | null
        created_at: string
      }>(
        tx,
        sql`select id, amount, remaining, source, reason, priority, expires_at, created_at from grants
            where project_id = ${input.projectId} and customer_id = ${customer.id} and closed_at is null
              and (expires_at is null or expires_at > ${at}::timestamptz)
              and (remaining > 0 ${
                returningIds.length
                  ? sql`or id in (${sql.join(
                      returningIds.map((id) => sql`${id}::int8`),
                      sql`, `,
                    )})`
                  : sql``
              })
            order by expires_at asc nulls last, priority desc, id asc`,
      )
      const lots = lotRows.map((l) => ({
        id: Number(l.id),
        amount: Number(l.amount),
        remaining: Number(l.remaining) + (returning.get(Number(l.id)) ?? 0),
        source: l.source,
        reason: l.reason,
        priority: Number(l.priority),
        expiresAt: l.expires_at ? new Date(l.expires_at).toISOString() : null,
        createdAt: new Date(l.created_at).toISOString(),
      }))
      const holds = liveHolds.map((h) => ({
        id: h.id,
        amount: Number(h.amount),
        reason: h.reason,
        expiresAt: new Date(h.expires_at).toISOString(),
        createdAt: new Date(h.created_at).toISOString(),
      }))
      return {
        telegramUserId: input.telegramUserId,
        available: lots.reduce((s, l) => s + l.remaining, 0),
        held: holds.reduce((s, h) => s + h.amount, 0),
        debt: Number(customer.debt),
        lots,
        holds,
      }
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  )
}
