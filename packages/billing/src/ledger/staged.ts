import { rows, type Tx } from '@e-stars/db'
import { type SQL, sql } from 'drizzle-orm'
import { valueMoved, valueRemainingSql } from '../margin/value.ts'
import { contentDigest, entryHash, lotsText } from './chain.ts'
import { type CustomerRow, type LockedCustomer, lockedColumns, toLocked } from './customers.ts'
import type { LotChange } from './entries.ts'
import { noteBalanceCrossing } from './events.ts'
import type { LiveLot } from './lots.ts'
import { burnOrder } from './lots.ts'

/**
 * Staged writes: how a group-commit batch applies its consumes (usage/group-commit.ts,
 * usage/consume.ts `consumeRun`).
 *
 * The batch locks its customers once and keeps, per customer, the locked row (balance, chain
 * head, earliest expiry) and its lots with credits left, in burn order (`lockAndStage`: one
 * statement for the rows, one for their lots, sent together). A segment of consumes is then
 * decided in memory on the staged state, in arrival order — replay or IdempotencyConflict for
 * a key already taken, blocked, insufficient credits, which lots it burns, the revenue they
 * move, the balance after and the chain hash (`stageEntry`: `entryHash` over what
 * `appendEntry` hashes in SQL) — and written in ONE statement whatever its length
 * (`writeOptimistic`): it claims the winners' keys with their responses, draws the entry ids,
 * and, only if every key was new, inserts the entries and writes each changed lot and customer
 * row ONCE, with the remaining, balance and chain head the segment's last entry left. When a
 * key was already taken (a replay, a conflict), nothing of that is written: the staged state is
 * put back and the segment is decided again on what the keys hold (`claimKeys`, then
 * `writeStaged`, which also gives back the keys of refused calls).
 *
 * Exactness: the state is read under the customers' row locks and changed only by these
 * writes, so it is what the database holds; it is written back at the end of every run, and an
 * act that is not a staged consume makes the batch forget it (it may change anything), so the
 * next consume reads it again. A refused call writes nothing, so it needs no savepoint.
 */

/** A lot with credits left, as a batch keeps it: `remaining` follows the batch's staged writes. */
export interface StagedLot extends LiveLot {
  amount: number
  valueMicros: number
  /** µs since the epoch, compared exactly as SQL compares `expires_at` with the act's instant. */
  expiresAtMicros: number | null
  /** Staged writes moved `remaining` since the row was written. */
  dirty: boolean
}

/** A customer the batch holds locked, with what its next staged entry needs. */
export interface StagedCustomer {
  locked: LockedCustomer
  ledgerHead: string | null
  /** The project's low-balance threshold (0: none). */
  threshold: number
  /** Credits left per lot, in burn order (lots that had none when loaded can only gain in another act). */
  lots: StagedLot[]
  /** The row's balance or head moved since it was written: `writeStaged` writes it. */
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
  // Two statements, sent together: the lots are read after the rows are locked (one connection
  // runs them in order, each with its own snapshot), without waiting a round trip in between.
  const [locked, lots] = await Promise.all([
    rows<LoadedRow>(
      tx,
      sql`select project_id, ${lockedColumns}, ledger_head,
            (select low_balance_threshold from projects p where p.id = customers.project_id) as threshold,
            (extract(epoch from now()) * 1000000)::int8::text as now_micros
          from customers where ${where} order by id for update`,
    ),
    rows<{
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
          where (project_id, customer_id) in (select project_id, id from customers where ${where})
            and remaining > 0
          order by project_id, customer_id, ${burnOrder}`,
    ),
  ])
  if (locked.length === 0) return 0
  cache.nowMicros ??= String(locked[0]!.now_micros)
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
      dirty: false,
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

/** A key as the batch finds it already stored (by another act, earlier or concurrent). */
export interface StoredKey {
  operation: string
  requestHash: string
  response: unknown
}

export interface Claims {
  /** Entry ids drawn for this segment's entries, ascending: the ledger's order is the chain's. */
  ids: number[]
  /** `projectId:key` of the keys this statement claimed (the row holds the first asker's hash). */
  claimed: Set<string>
  /** `projectId:key` → the stored key, for keys that were already taken. */
  stored: Map<string, StoredKey>
}

const parseJson = <T>(value: unknown): T =>
  (typeof value === 'string' ? JSON.parse(value) : value) as T

/**
 * One statement for a segment of consumes: draws up to `entries` entry ids, claims each key
 * (the first act asking for it; a key already taken is left alone, and a concurrent claim is
 * waited for on the unique index), and reads the keys that were already stored.
 */
export async function claimKeys(
  tx: Tx,
  keys: Array<{ projectId: string; key: string; operation: string; requestHash: string }>,
  entries: number,
): Promise<Claims> {
  const values = sql.join(
    keys.map(
      (k) =>
        sql`(${k.projectId}::uuid, ${k.key}::text, ${k.operation}::text, ${k.requestHash}::text)`,
    ),
    sql`, `,
  )
  const [row] = await rows<{ ids: unknown; claimed: unknown; stored: unknown }>(
    tx,
    sql`with ids as (
          select nextval(pg_get_serial_sequence('ledger_entries', 'id'))::text as id
          from generate_series(1, ${entries}::int)
        ),
        asked(project_id, key, operation, request_hash) as (values ${values}),
        claim as (
          insert into idempotency_keys (project_id, key, operation, request_hash)
          select project_id, key, operation, request_hash from asked
          on conflict do nothing
          returning project_id, key
        ),
        stored as (
          select k.project_id, k.key, k.operation, k.request_hash, k.response
          from idempotency_keys k join asked a on a.project_id = k.project_id and a.key = k.key
        )
        select (select json_agg(id) from ids) as ids,
          (select json_agg(json_build_array(project_id, key)) from claim) as claimed,
          (select json_agg(json_build_array(project_id, key, operation, request_hash, response))
             from stored) as stored`,
  )
  const ids = (parseJson<string[] | null>(row?.ids) ?? []).map(Number).sort((a, b) => a - b)
  const claimed = new Set(
    (parseJson<Array<[string, string]> | null>(row?.claimed) ?? []).map(([p, k]) => `${p}:${k}`),
  )
  const stored = new Map<string, StoredKey>()
  for (const [p, k, operation, requestHash, response] of parseJson<Array<
    [string, string, string, string, unknown]
  > | null>(row?.stored) ?? []) {
    stored.set(`${p}:${k}`, { operation, requestHash, response })
  }
  // A key committed by another transaction while our claim waited on it is newer than this
  // statement's snapshot: read it now.
  const missing = keys.filter(
    (k) => !claimed.has(`${k.projectId}:${k.key}`) && !stored.has(`${k.projectId}:${k.key}`),
  )
  if (missing.length > 0) {
    const late = await rows<{
      project_id: string
      key: string
      operation: string
      request_hash: string
      response: unknown
    }>(
      tx,
      sql`select project_id, key, operation, request_hash, response from idempotency_keys
          where (project_id, key) in (values ${sql.join(
            missing.map((k) => sql`(${k.projectId}::uuid, ${k.key}::text)`),
            sql`, `,
          )})`,
    )
    for (const k of late) {
      stored.set(`${k.project_id}:${k.key}`, {
        operation: k.operation,
        requestHash: k.request_hash,
        response: parseJson(k.response),
      })
    }
  }
  return { ids, claimed, stored }
}

/** One decided entry of a segment, its balance after and chain link computed by `stageEntry`. */
export interface StagedEntry {
  id: number
  customer: StagedCustomer
  kind: 'consume'
  amount: number
  lots: LotChange[]
  availableAfter: number
  heldAfter: number
  debtAfter: number
  reason: string
  actor: string
  idempotencyKey: string
  metadata: Record<string, unknown> | null
  revenueMicros: number
  prevHash: string | null
  hash: string
  /** The balance before, for the low-balance crossing. */
  before: number
}

/**
 * Applies one consume to the staged state in memory and returns its entry: the revenue its lots
 * move, the balance after and the chain hash (`entryHash` over what `appendEntry` hashes in SQL;
 * `created_at` is the transaction's `now()`, which every statement of it shares).
 */
export function stageEntry(
  cache: StagedCache,
  customer: StagedCustomer,
  draft: {
    id: number
    amount: number
    lots: LotChange[]
    reason: string
    actor: string
    idempotencyKey: string
    metadata: Record<string, unknown> | null
  },
): StagedEntry {
  const c = customer.locked
  if (cache.nowMicros === null) throw new Error('a staged entry before its customer was loaded')
  const lots = draft.lots.filter((l) => l.amount !== 0)
  const values = new Map(
    customer.lots.map((lot) => [
      lot.id,
      { id: lot.id, amount: lot.amount, remaining: lot.remaining, valueMicros: lot.valueMicros },
    ]),
  )
  const revenueMicros = lots.length ? valueMoved(values, lots) : 0
  const before = c.available
  const availableAfter = c.available - draft.amount
  const digest = contentDigest({
    projectId: c.projectId,
    kind: 'consume',
    amount: -draft.amount,
    heldChange: 0,
    debtChange: 0,
    grantId: null,
    holdId: null,
    reason: draft.reason,
    actor: draft.actor,
    idempotencyKey: draft.idempotencyKey,
    metadata: draft.metadata,
    revenueMicros,
    costMicros: null,
    usage: null,
  })
  const prevHash = customer.ledgerHead
  const hash = entryHash(prevHash, digest, {
    customerId: c.id,
    availableAfter,
    heldAfter: c.held,
    debtAfter: c.debt,
    lots: lotsText(lots),
    createdAtMicros: cache.nowMicros,
  })
  c.available = availableAfter
  customer.ledgerHead = hash
  customer.dirty = true
  for (const change of lots) {
    const lot = customer.lots.find((l) => l.id === change.lotId)
    if (lot) {
      lot.remaining += change.amount
      lot.dirty = true
    }
  }
  return {
    id: draft.id,
    customer,
    kind: 'consume',
    amount: -draft.amount,
    lots,
    availableAfter,
    heldAfter: c.held,
    debtAfter: c.debt,
    reason: draft.reason,
    actor: draft.actor,
    idempotencyKey: draft.idempotencyKey,
    metadata: draft.metadata,
    revenueMicros,
    prevHash,
    hash,
    before,
  }
}

/**
 * Writes a decided segment in ONE statement: its entries, the responses of the keys they won,
 * the removal of keys claimed by calls that were refused (a refused call leaves no key), and
 * each changed lot and customer row once, with the remaining, balance and chain head the
 * segment's last entry left. Then the low-balance events the entries crossed into.
 */
export async function writeStaged(
  tx: Tx,
  cache: StagedCache,
  segment: {
    entries: StagedEntry[]
    won: Array<{ projectId: string; key: string; requestHash: string; response: unknown }>
    released: Array<{ projectId: string; key: string }>
  },
): Promise<void> {
  const parts: SQL[] = []
  const { entries, won, released } = segment
  if (entries.length > 0) {
    parts.push(sql`entries as (
      insert into ledger_entries (project_id, id, customer_id, kind, amount, held_change,
        debt_change, available_after, held_after, debt_after, lots, grant_id, hold_id, reason,
        actor, idempotency_key, metadata, revenue_micros, cost_micros, usage, created_at,
        prev_hash, hash)
      overriding system value
      values ${sql.join(
        entries.map(
          (
            e,
          ) => sql`(${e.customer.locked.projectId}::uuid, ${e.id}::int8, ${e.customer.locked.id}::int8,
            ${e.kind}, ${e.amount}::int8, 0, 0, ${e.availableAfter}::int8, ${e.heldAfter}::int8,
            ${e.debtAfter}::int8, ${JSON.stringify(e.lots)}::jsonb, null, null, ${e.reason},
            ${e.actor}, ${e.idempotencyKey},
            ${e.metadata ? JSON.stringify(e.metadata) : null}::jsonb, ${e.revenueMicros}::int8,
            null, null, now(), ${e.prevHash}::text, ${e.hash}::text)`,
        ),
        sql`, `,
      )}
      returning 1
    )`)
  }
  if (won.length > 0) {
    parts.push(sql`won as (
      update idempotency_keys k set request_hash = w.request_hash, response = w.response
      from (values ${sql.join(
        won.map(
          (w) =>
            sql`(${w.projectId}::uuid, ${w.key}::text, ${w.requestHash}::text, ${JSON.stringify(w.response)}::jsonb)`,
        ),
        sql`, `,
      )}) as w(project_id, key, request_hash, response)
      where k.project_id = w.project_id and k.key = w.key
      returning 1
    )`)
  }
  if (released.length > 0) {
    parts.push(sql`released as (
      delete from idempotency_keys
      where (project_id, key) in (values ${sql.join(
        released.map((r) => sql`(${r.projectId}::uuid, ${r.key}::text)`),
        sql`, `,
      )})
      returning 1
    )`)
  }
  const dirty = rowWrites(cache, sql`true`, parts)
  if (parts.length === 0) return
  await tx.execute(sql`with ${sql.join(parts, sql`, `)} select 1`)
  written(dirty)
  await noteCrossings(tx, entries)
}

/** The staged rows are what the database holds again. */
function written(dirty: StagedCustomer[]): void {
  for (const c of dirty) {
    c.dirty = false
    for (const lot of c.lots) lot.dirty = false
  }
}

/** The low-balance events the entries crossed into (no statement unless one crossed). */
async function noteCrossings(tx: Tx, entries: StagedEntry[]): Promise<void> {
  for (const e of entries) {
    if (e.customer.threshold <= 0) continue
    await noteBalanceCrossing(tx, e.customer.locked, {
      kind: e.kind,
      before: e.before,
      after: e.availableAfter,
      threshold: e.customer.threshold,
      entryId: e.id,
    })
  }
}

/**
 * Adds to `parts` the writes of every changed lot and customer row (once each, absolute values
 * under the lock), done only when `gate` holds; returns the changed customers.
 */
function rowWrites(cache: StagedCache, gate: SQL, parts: SQL[]): StagedCustomer[] {
  const dirty = [...cache.customers.values()].filter((c) => c.dirty)
  const lots = dirty.flatMap((c) =>
    c.lots.filter((l) => l.dirty).map((l) => ({ customer: c.locked, lot: l })),
  )
  if (lots.length > 0) {
    parts.push(sql`lots as (
      update grants g set remaining = v.remaining,
        value_remaining_micros = ${valueRemainingSql(sql`v.remaining`)}
      from (values ${sql.join(
        lots.map(
          ({ customer, lot }) =>
            sql`(${customer.projectId}::uuid, ${customer.id}::int8, ${lot.id}::int8, ${lot.remaining}::int8)`,
        ),
        sql`, `,
      )}) as v(project_id, customer_id, id, remaining)
      where g.project_id = v.project_id and g.customer_id = v.customer_id and g.id = v.id
        and ${gate}
      returning 1
    )`)
  }
  if (dirty.length > 0) {
    parts.push(sql`customers_after as (
      update customers c set available = v.available, held = v.held, debt = v.debt,
        ledger_head = v.head, last_active_at = now()
      from (values ${sql.join(
        dirty.map(
          (s) =>
            sql`(${s.locked.projectId}::uuid, ${s.locked.id}::int8, ${s.locked.available}::int8,
              ${s.locked.held}::int8, ${s.locked.debt}::int8, ${s.ledgerHead}::text)`,
        ),
        sql`, `,
      )}) as v(project_id, id, available, held, debt, head)
      where c.project_id = v.project_id and c.id = v.id and ${gate}
      returning 1
    )`)
  }
  return dirty
}

/** What the staged state of some customers was, to put back when an optimistic write is refused. */
export type StagedSnapshot = Array<{
  customer: StagedCustomer
  available: number
  ledgerHead: string | null
  dirty: boolean
  lots: Array<{ lot: StagedLot; remaining: number; dirty: boolean }>
}>

export function snapshotStaged(customers: Iterable<StagedCustomer>): StagedSnapshot {
  return [...new Set(customers)].map((customer) => ({
    customer,
    available: customer.locked.available,
    ledgerHead: customer.ledgerHead,
    dirty: customer.dirty,
    lots: customer.lots.map((lot) => ({ lot, remaining: lot.remaining, dirty: lot.dirty })),
  }))
}

export function restoreStaged(snapshot: StagedSnapshot): void {
  for (const s of snapshot) {
    s.customer.locked.available = s.available
    s.customer.ledgerHead = s.ledgerHead
    s.customer.dirty = s.dirty
    for (const l of s.lots) {
      l.lot.remaining = l.remaining
      l.lot.dirty = l.dirty
    }
  }
}

/**
 * The whole segment in ONE statement, decided on the guess that every key it asks for is new
 * (the usual case): claims the keys of the calls that won, with their responses; draws the entry
 * ids; and only if every claim succeeded and no asked key was already stored, inserts the
 * entries and writes each changed lot and customer row once. Answers whether it wrote, and
 * otherwise what it found (`claimed` keys it holds now, with guessed responses; `stored` ones),
 * so the caller can put the staged state back, give the claims back, and decide again.
 */
export async function writeOptimistic(
  tx: Tx,
  cache: StagedCache,
  segment: {
    entries: StagedEntry[]
    /** One per entry, in entry order: the key it won and its response but the entry id. */
    won: Array<{
      projectId: string
      key: string
      requestHash: string
      response: { consumed: number; available: number; held: number; debt: number }
    }>
    /** Every key the segment asks about (won or not). */
    asked: Array<{ projectId: string; key: string }>
  },
): Promise<{ ok: boolean; ids: number[]; claimed: Array<{ projectId: string; key: string }> }> {
  const { entries, won, asked } = segment
  const parts: SQL[] = [
    sql`ids as (
      select id, row_number() over (order by id) as ord
      from (select nextval(pg_get_serial_sequence('ledger_entries', 'id')) as id
            from generate_series(1, ${entries.length}::int)) s
    )`,
    sql`asked(project_id, key) as (values ${sql.join(
      asked.map((a) => sql`(${a.projectId}::uuid, ${a.key}::text)`),
      sql`, `,
    )})`,
    sql`stored as (
      select 1 from idempotency_keys k join asked a on a.project_id = k.project_id and a.key = k.key
    )`,
  ]
  if (won.length > 0) {
    parts.push(sql`claim as (
      insert into idempotency_keys (project_id, key, operation, request_hash, response)
      select w.project_id, w.key, 'consume', w.request_hash,
        jsonb_build_object('entryId', ids.id, 'consumed', w.consumed, 'available', w.available,
          'held', w.held, 'debt', w.debt)
      from (values ${sql.join(
        won.map(
          (w, i) =>
            sql`(${i + 1}::int8, ${w.projectId}::uuid, ${w.key}::text, ${w.requestHash}::text,
              ${w.response.consumed}::int8, ${w.response.available}::int8, ${w.response.held}::int8,
              ${w.response.debt}::int8)`,
        ),
        sql`, `,
      )}) as w(ord, project_id, key, request_hash, consumed, available, held, debt)
      join ids on ids.ord = w.ord
      on conflict do nothing
      returning project_id, key
    )`)
  } else {
    parts.push(sql`claim as (select null::uuid as project_id, null::text as key where false)`)
  }
  const gate = sql`((select count(*) from claim) = ${won.length} and not exists (select 1 from stored))`
  if (entries.length > 0) {
    parts.push(sql`entries as (
      insert into ledger_entries (project_id, id, customer_id, kind, amount, held_change,
        debt_change, available_after, held_after, debt_after, lots, grant_id, hold_id, reason,
        actor, idempotency_key, metadata, revenue_micros, cost_micros, usage, created_at,
        prev_hash, hash)
      overriding system value
      select v.project_id, ids.id, v.customer_id, v.kind, v.amount, 0, 0, v.available_after,
        v.held_after, v.debt_after, v.lots, null::int8, null::uuid, v.reason, v.actor,
        v.idempotency_key, v.metadata, v.revenue_micros, null::int8, null::jsonb, now(),
        v.prev_hash, v.hash
      from (values ${sql.join(
        entries.map(
          (
            e,
            i,
          ) => sql`(${i + 1}::int8, ${e.customer.locked.projectId}::uuid, ${e.customer.locked.id}::int8,
            ${e.kind}::text, ${e.amount}::int8, ${e.availableAfter}::int8, ${e.heldAfter}::int8,
            ${e.debtAfter}::int8, ${JSON.stringify(e.lots)}::jsonb, ${e.reason}::text,
            ${e.actor}::text, ${e.idempotencyKey}::text,
            ${e.metadata ? JSON.stringify(e.metadata) : null}::jsonb, ${e.revenueMicros}::int8,
            ${e.prevHash}::text, ${e.hash}::text)`,
        ),
        sql`, `,
      )}) as v(ord, project_id, customer_id, kind, amount, available_after, held_after, debt_after,
        lots, reason, actor, idempotency_key, metadata, revenue_micros, prev_hash, hash)
      join ids on ids.ord = v.ord
      where ${gate}
      returning 1
    )`)
  }
  const dirty = rowWrites(cache, gate, parts)
  const [row] = await rows<{ ok: boolean; ids: unknown; claimed: unknown }>(
    tx,
    sql`with ${sql.join(parts, sql`, `)}
      select ${gate} as ok, (select json_agg(id) from ids) as ids,
        (select json_agg(json_build_array(project_id, key)) from claim) as claimed`,
  )
  const ids = (parseJson<Array<string | number> | null>(row?.ids) ?? [])
    .map(Number)
    .sort((a, b) => a - b)
  const claimed = (parseJson<Array<[string, string]> | null>(row?.claimed) ?? []).map(
    ([projectId, key]) => ({ projectId, key }),
  )
  const ok = row?.ok === true || (row?.ok as unknown) === 't'
  if (!ok) return { ok, ids, claimed }
  entries.forEach((e, i) => {
    e.id = ids[i]!
  })
  written(dirty)
  await noteCrossings(tx, entries)
  return { ok, ids, claimed }
}

/** Gives back keys claimed by a refused optimistic write (another statement sees them). */
export async function releaseClaims(
  tx: Tx,
  claimed: Array<{ projectId: string; key: string }>,
): Promise<void> {
  if (claimed.length === 0) return
  await tx.execute(
    sql`delete from idempotency_keys where (project_id, key) in (values ${sql.join(
      claimed.map((c) => sql`(${c.projectId}::uuid, ${c.key}::text)`),
      sql`, `,
    )})`,
  )
}

/** Forgets the staged state: the next consume locks and reads its customer again. */
export function forgetStaged(cache: StagedCache): void {
  cache.customers.clear()
}
