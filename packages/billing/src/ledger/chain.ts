import { createHash } from 'node:crypto'
import { type SQL, sql } from 'drizzle-orm'

/**
 * The per-customer hash chain over ledger entries (docs/security/ledger.md).
 *
 *   hash = sha256hex(prevHash | contentDigest | customerId | availableAfter | heldAfter
 *                    | debtAfter | lots | createdAtMicros)
 *
 * `contentDigest` covers what the caller decides (kind, deltas, links, reason, actor, key,
 * metadata) as canonical JSON, always computed here in TypeScript. The rest is what the write
 * statement itself decides (the customer, the balance after, the lots a consume burned, the
 * instant), plain integers and separators, so SQL (`chainedHashSql`) and TypeScript
 * (`entryHash`) compute the same hash: the one-statement consume hashes in SQL, the verifier and
 * grouped writes in TypeScript, given the head.
 */

/** What the caller of a write decides: hashed in TypeScript before the statement runs. */
export interface EntryContent {
  projectId: string
  kind: string
  amount: number
  heldChange: number
  debtChange: number
  grantId: number | null
  holdId: string | null
  reason: string
  actor: string
  idempotencyKey: string | null
  metadata: unknown
  /** Margin facts (issue 14): hashed only when one of them is set, so older entries keep their hash. */
  revenueMicros?: number | null
  costMicros?: number | null
  usage?: unknown
}

/** What the write statement decides. `lots` is `lotsText(...)`; `createdAtMicros` is µs since the epoch. */
export interface EntrySeal {
  customerId: number | string
  availableAfter: number | string
  heldAfter: number | string
  debtAfter: number | string
  lots: string
  createdAtMicros: number | string | bigint
}

const CHAIN_VERSION = 1

export function contentDigest(c: EntryContent): string {
  return sha256(
    canonicalJson([
      CHAIN_VERSION,
      c.projectId,
      c.kind,
      c.amount,
      c.heldChange,
      c.debtChange,
      c.grantId,
      c.holdId?.toLowerCase() ?? null,
      c.reason,
      c.actor,
      c.idempotencyKey,
      c.metadata ?? null,
      ...marginFacts(c),
    ]),
  )
}

/**
 * The margin facts as hashed: nothing when the entry moved no revenue and carries no cost or
 * usage (every entry written before issue 14, and a burn of free credits), so those hashes are
 * unchanged; a zero revenue and a missing one hash alike.
 */
function marginFacts(c: EntryContent): unknown[] {
  const revenueMicros = c.revenueMicros ?? 0
  const costMicros = c.costMicros ?? null
  const usage = c.usage ?? null
  if (revenueMicros === 0 && !costMicros && usage === null) return []
  return [{ revenueMicros, costMicros, usage }]
}

/** The entry's hash in TypeScript: what `chainedHashSql` computes in the database. */
export function entryHash(prevHash: string | null, digest: string, seal: EntrySeal): string {
  return sha256(
    [
      prevHash ?? '',
      digest,
      seal.customerId,
      seal.availableAfter,
      seal.heldAfter,
      seal.debtAfter,
      seal.lots,
      seal.createdAtMicros,
    ]
      .map(String)
      .join('|'),
  )
}

/**
 * Hashes one customer's next entries in order, from its head: what a grouped write computes before
 * its one statement inserts them (in this order) and moves the head to the last hash.
 */
export function chainFrom(
  head: string | null,
  entries: ReadonlyArray<{ digest: string; seal: EntrySeal }>,
): Array<{ prevHash: string | null; hash: string }> {
  const links: Array<{ prevHash: string | null; hash: string }> = []
  for (const e of entries) {
    const hash = entryHash(head, e.digest, e.seal)
    links.push({ prevHash: head, hash })
    head = hash
  }
  return links
}

/** Lot changes as hashed: `lotId:amount` in the entry's order, comma-separated. */
export function lotsText(lots: ReadonlyArray<{ lotId: number; amount: number }>): string {
  return lots.map((l) => `${l.lotId}:${l.amount}`).join(',')
}

/** An instant as the chain hashes it, in SQL: whole microseconds since the epoch. */
export const microsSql = (instant: SQL) => sql`(extract(epoch from ${instant}) * 1000000)::int8`

/** The same hash as `entryHash`, as a SQL expression over the statement's own values. */
export function chainedHashSql(
  prevHash: SQL,
  digest: string,
  seal: { [K in keyof EntrySeal]: SQL },
): SQL {
  const parts = [
    sql`coalesce(${prevHash}, '')`,
    sql`${digest}::text`,
    ...[seal.customerId, seal.availableAfter, seal.heldAfter, seal.debtAfter].map(
      (part) => sql`(${part})::text`,
    ),
    sql`coalesce(${seal.lots}, '')`,
    sql`(${seal.createdAtMicros})::text`,
  ]
  return sql`encode(sha256(convert_to(concat_ws('|', ${sql.join(parts, sql`, `)}), 'UTF8')), 'hex')`
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

/**
 * JSON with object keys sorted, after the round trip a `jsonb` column gives a value (undefined
 * members dropped, dates as strings): the same text at write time and when read back.
 */
export function canonicalJson(value: unknown): string {
  return serialize(JSON.parse(JSON.stringify(value ?? null)))
}

function serialize(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(serialize).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    const members = Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${serialize(record[key])}`)
    return `{${members.join(',')}}`
  }
  return JSON.stringify(value)
}
