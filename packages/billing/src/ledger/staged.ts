import { rows, type Tx } from '@e-stars/db'
import { type SQL, sql } from 'drizzle-orm'
import { valueMoved, valueRemainingSql } from '../margin/value.ts'
import { contentDigest, entryHash, lotsText } from './chain.ts'
import { type CustomerRow, type LockedCustomer, lockedColumns, toLocked } from './customers.ts'
import type { BalanceAfter, LotChange } from './entries.ts'
import { noteBalanceCrossing } from './events.ts'
import type { LiveLot } from './lots.ts'
import { burnOrder } from './lots.ts'

/**
 * Staged writes: how a group-commit batch applies its consumes (usage/group-commit.ts).
 *
 * The batch locks its customers once and keeps, per customer, the locked row (balance, chain
 * head, earliest expiry) and its lots with credits left, in burn order. A consume is decided on
 * that state in memory — blocked, insufficient credits, which lots it burns, the revenue they
 * move, the entry's balance after and its chain hash (`entryHash`, what `appendEntry` computes in
 * SQL) — and then written in ONE statement that claims its idempotency key and, only if the claim
 * succeeds, updates the lots it burned, inserts its ledger entry and stores its response. The
 * customer row is not written per entry: the batch writes each changed customer once
 * (`flushStaged`) with the balance and chain head its last entry left, before anything else reads
 * it (any other act in the batch, and the commit).
 *
 * Exactness: the state is read under the customer's row lock and changed only by these writes,
 * so it is what the database holds; an act that is not a staged consume makes the batch flush
 * and forget the state first (it may change anything), and the next consume reads it again.
 */

/** A lot with credits left, as a batch keeps it: `remaining` follows the batch's staged writes. */
export interface StagedLot extends LiveLot {
  amount: number
  valueMicros: number
  /** µs since the epoch, compared exactly as SQL compares `expires_at` with the act's instant. */
  expiresAtMicros: number | null
}

/** A customer the batch holds locked, with what its next staged entry needs. */
export interface StagedCustomer {
  locked: LockedCustomer
  ledgerHead: string | null
  /** The project's low-balance threshold (0: none). */
  threshold: number
  /** Credits left per lot, in burn order (lots that had none when loaded can only gain in another act). */
  lots: StagedLot[]
  /** The row's balance or head moved since it was written: `flushStaged` writes it. */
  dirty: boolean
}

export interface StagedCache {
  /** By `projectId:telegramUserId`. */
  customers: Map<string, StagedCustomer>
  /** `now()` of the transaction in µs: every entry's `created_at`, hashed by the chain. */
  nowMicros: string | null
}

export const newStagedCache = (): StagedCache => ({ customers: new Map(), nowMicros: null })

export const stagedKey = (projectId: string, telegramUserId: number) =>
  `${projectId}:${telegramUserId}`

interface LoadedRow extends CustomerRow {
  project_id: string
  ledger_head: string | null
  threshold: string | null
  now_micros: string
}

/**
 * Locks the customers `where` names, in id order, and loads them with their lots into `cache`:
 * one statement for the rows, one for their lots. Returns how many rows it locked.
 */
export async function lockAndStage(tx: Tx, cache: StagedCache, where: SQL): Promise<number> {
  const locked = await rows<LoadedRow>(
    tx,
    sql`select project_id, ${lockedColumns}, ledger_head,
          (select low_balance_threshold from projects p where p.id = customers.project_id) as threshold,
          (extract(epoch from now()) * 1000000)::int8::text as now_micros
        from customers where ${where} order by id for update`,
  )
  if (locked.length === 0) return 0
  cache.nowMicros ??= String(locked[0]!.now_micros)
  const lots = await rows<{
    project_id: string
    customer_id: string
    id: string
    remaining: string
    amount: string
    value_micros: string
    expires_micros: string | null
  }>(
    tx,
    sql`select project_id, customer_id, id, remaining, amount, value_micros,
          (extract(epoch from expires_at) * 1000000)::int8::text as expires_micros
        from grants
        where (project_id, customer_id) in (values ${sql.join(
          locked.map((c) => sql`(${c.project_id}::uuid, ${c.id}::int8)`),
          sql`, `,
        )}) and remaining > 0
        order by project_id, customer_id, ${burnOrder}`,
  )
  const byCustomer = new Map<string, StagedLot[]>()
  for (const lot of lots) {
    const key = `${lot.project_id}:${lot.customer_id}`
    const list = byCustomer.get(key) ?? []
    byCustomer.set(key, list)
    list.push({
      id: Number(lot.id),
      remaining: Number(lot.remaining),
      amount: Number(lot.amount),
      valueMicros: Number(lot.value_micros),
      expiresAtMicros: lot.expires_micros === null ? null : Number(lot.expires_micros),
    })
  }
  for (const row of locked) {
    const customer = toLocked(row.project_id, row)
    cache.customers.set(stagedKey(customer.projectId, customer.telegramUserId), {
      locked: customer,
      ledgerHead: row.ledger_head,
      threshold: Number(row.threshold ?? 0),
      lots: byCustomer.get(`${row.project_id}:${row.id}`) ?? [],
      dirty: false,
    })
  }
  return locked.length
}

/** The staged customer, locked and loaded now if the batch does not hold it yet; undefined if none. */
export async function stagedCustomer(
  tx: Tx,
  cache: StagedCache,
  projectId: string,
  telegramUserId: number,
): Promise<StagedCustomer | undefined> {
  const key = stagedKey(projectId, telegramUserId)
  const held = cache.customers.get(key)
  if (held) return held
  await lockAndStage(
    tx,
    cache,
    sql`project_id = ${projectId} and telegram_user_id = ${telegramUserId}`,
  )
  return cache.customers.get(key)
}

/** The lots live at `now` (µs-exact, as `liveLots` asks SQL), in burn order. */
export function liveStagedLots(customer: StagedCustomer, now: Date): StagedLot[] {
  const at = now.getTime() * 1000
  return customer.lots.filter(
    (lot) => lot.remaining > 0 && (lot.expiresAtMicros === null || lot.expiresAtMicros > at),
  )
}

export interface StagedConsume {
  projectId: string
  idempotencyKey: string
  requestHash: string
  amount: number
  lots: LotChange[]
  reason: string
  actor: string
  metadata: Record<string, unknown> | null
}

/**
 * Writes one decided consume in one statement: claims the key (a key already taken writes
 * nothing and answers `null`), and with the claim burns the lots, inserts the entry — its
 * balance after and chain hash computed here from the staged row — and stores the response.
 * The staged state moves with it; the customer row is written later by `flushStaged`.
 */
export async function writeStagedConsume(
  tx: Tx,
  cache: StagedCache,
  customer: StagedCustomer,
  consume: StagedConsume,
): Promise<(BalanceAfter & { consumed: number }) | null> {
  const c = customer.locked
  const nowMicros = cache.nowMicros
  if (nowMicros === null) throw new Error('staged consume before its customer was loaded')
  const lots = consume.lots.filter((l) => l.amount !== 0)
  const values = new Map(
    customer.lots.map((lot) => [
      lot.id,
      { id: lot.id, amount: lot.amount, remaining: lot.remaining, valueMicros: lot.valueMicros },
    ]),
  )
  const revenueMicros = lots.length ? valueMoved(values, lots) : 0
  const after = { available: c.available - consume.amount, held: c.held, debt: c.debt }
  const digest = contentDigest({
    projectId: c.projectId,
    kind: 'consume',
    amount: -consume.amount,
    heldChange: 0,
    debtChange: 0,
    grantId: null,
    holdId: null,
    reason: consume.reason,
    actor: consume.actor,
    idempotencyKey: consume.idempotencyKey,
    metadata: consume.metadata,
    revenueMicros,
    costMicros: null,
    usage: null,
  })
  const hash = entryHash(customer.ledgerHead, digest, {
    customerId: c.id,
    availableAfter: after.available,
    heldAfter: after.held,
    debtAfter: after.debt,
    lots: lotsText(lots),
    createdAtMicros: nowMicros,
  })
  const lotUpdate = lots.length
    ? sql`, lot_changes as (
        update grants g set remaining = g.remaining + v.delta,
          value_remaining_micros = ${valueRemainingSql(sql`g.remaining + v.delta`)}
        from (values ${sql.join(
          lots.map((l) => sql`(${l.lotId}::int8, ${l.amount}::int8)`),
          sql`, `,
        )}) as v(id, delta)
        where g.project_id = ${c.projectId} and g.customer_id = ${c.id} and g.id = v.id
          and exists (select 1 from claim)
        returning g.id
      )`
    : sql``
  const [row] = await rows<{ id: string | null }>(
    tx,
    sql`with entry_id as (
          select nextval(pg_get_serial_sequence('ledger_entries', 'id')) as id
        ),
        claim as (
          insert into idempotency_keys (project_id, key, operation, request_hash, response)
          select ${c.projectId}, ${consume.idempotencyKey}, 'consume', ${consume.requestHash},
            jsonb_build_object('entryId', id, 'consumed', ${consume.amount}::int8,
              'available', ${after.available}::int8, 'held', ${after.held}::int8,
              'debt', ${after.debt}::int8)
          from entry_id
          on conflict do nothing
          returning key
        )${lotUpdate},
        entry as (
          insert into ledger_entries (project_id, id, customer_id, kind, amount, held_change,
            debt_change, available_after, held_after, debt_after, lots, grant_id, hold_id, reason,
            actor, idempotency_key, metadata, revenue_micros, cost_micros, usage, created_at,
            prev_hash, hash)
          overriding system value
          select ${c.projectId}, id, ${c.id}::int8, 'consume', ${-consume.amount}::int8, 0, 0,
            ${after.available}::int8, ${after.held}::int8, ${after.debt}::int8,
            ${JSON.stringify(lots)}::jsonb, null, null, ${consume.reason}, ${consume.actor},
            ${consume.idempotencyKey},
            ${consume.metadata ? JSON.stringify(consume.metadata) : null}::jsonb,
            ${revenueMicros}::int8, null, null, now(), ${customer.ledgerHead}::text, ${hash}
          from entry_id where exists (select 1 from claim)
          returning id
        )
        select (select id from entry) as id`,
  )
  if (!row || row.id === null) return null
  const before = c.available
  c.available = after.available
  customer.ledgerHead = hash
  customer.dirty = true
  for (const change of lots) {
    const lot = customer.lots.find((l) => l.id === change.lotId)
    if (lot) lot.remaining += change.amount
  }
  const entryId = Number(row.id)
  if (customer.threshold > 0) {
    await noteBalanceCrossing(tx, c, {
      kind: 'consume',
      before,
      after: after.available,
      threshold: customer.threshold,
      entryId,
    })
  }
  return { entryId, consumed: consume.amount, ...after }
}

/**
 * Writes every staged customer whose balance or chain head moved: one statement for all of them
 * (a hot customer's whole batch is one row update). Must run before anything else reads them.
 */
export async function flushStaged(tx: Tx, cache: StagedCache): Promise<void> {
  const dirty = [...cache.customers.values()].filter((c) => c.dirty)
  if (dirty.length === 0) return
  await tx.execute(
    sql`update customers c set available = v.available, held = v.held, debt = v.debt,
          ledger_head = v.head, last_active_at = now()
        from (values ${sql.join(
          dirty.map(
            (s) =>
              sql`(${s.locked.projectId}::uuid, ${s.locked.id}::int8, ${s.locked.available}::int8,
                ${s.locked.held}::int8, ${s.locked.debt}::int8, ${s.ledgerHead}::text)`,
          ),
          sql`, `,
        )}) as v(project_id, id, available, held, debt, head)
        where c.project_id = v.project_id and c.id = v.id`,
  )
  for (const s of dirty) s.dirty = false
}

/** Forgets the staged state (after flushing it): the next consume reads its customer again. */
export async function flushAndForget(tx: Tx, cache: StagedCache): Promise<void> {
  await flushStaged(tx, cache)
  cache.customers.clear()
}
