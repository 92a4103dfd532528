import { type Db, rows, type Tx } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { NotFound } from '../errors.ts'
import { contentDigest, entryHash, lotsText, microsSql } from './chain.ts'

/**
 * What a verification can find, per customer (docs/security/ledger.md):
 * - `link`: the entry's `prev_hash` is not the hash of the customer's previous entry (an entry
 *   was removed, inserted or moved, or the previous one was rewritten with a new hash);
 * - `hash`: the entry's content no longer gives its hash (it was edited);
 * - `unchained`: an entry written after the chain began carries no hash;
 * - `balance_after`: the entry's balance-after is not the running sum of the entries up to it;
 * - `head`: the customer's chain head is not its newest entry's hash (entries removed at the end);
 * - `cache_vs_ledger`: the cached balance is not the sum of the entries (rule 4);
 * - `cache_vs_lots`, `cache_vs_holds`: the cached available is not the lots' remaining credits,
 *   or the cached held is not the open holds.
 */
export type LedgerProblem =
  | 'link'
  | 'hash'
  | 'unchained'
  | 'balance_after'
  | 'head'
  | 'cache_vs_ledger'
  | 'cache_vs_lots'
  | 'cache_vs_holds'

export interface LedgerFinding {
  projectId: string
  customerId: number
  telegramUserId: number
  /** The first broken entry; for a cache finding, the customer's newest entry (null if none). */
  entryId: number | null
  problem: LedgerProblem
  detail: string
}

export interface LedgerVerification {
  projects: number
  customers: number
  entries: number
  /** Entries written before the chain began (no hash): balances checked, content not. */
  unchainedEntries: number
  /** The first finding of each broken customer, in project and customer order. */
  findings: LedgerFinding[]
}

export interface VerifyLedgerInput {
  /** One project; all projects when absent. */
  projectId?: string | undefined
  /** Customers read per snapshot. */
  batch?: number | undefined
}

interface CustomerFacts {
  id: string
  telegram_user_id: string
  available: string
  held: string
  debt: string
  ledger_head: string | null
  lots: string
  holds: string
}

interface EntryRow {
  id: string
  customer_id: string
  kind: string
  amount: string
  held_change: string
  debt_change: string
  available_after: string
  held_after: string
  debt_after: string
  lots: string
  grant_id: string | null
  hold_id: string | null
  reason: string
  actor: string
  idempotency_key: string | null
  metadata: string | null
  revenue_micros: string | null
  cost_micros: string | null
  usage: string | null
  created_us: string
  prev_hash: string | null
  hash: string | null
}

/** A customer's walk so far. */
interface Walk {
  available: number
  held: number
  debt: number
  head: string | null
  chained: boolean
  lastEntryId: number | null
  finding: LedgerFinding | null
}

const ENTRY_PAGE = 2000

/**
 * Walks every customer's chain (of one project or all) and checks that each entry's hash
 * recomputes, each `prev_hash` links, each balance-after is the running sum, and that the cached
 * balance = the sum of the entries = the live lots + the open holds. Reads one consistent snapshot
 * per batch of customers, so it runs beside live traffic. Recomputes every hash here, in
 * TypeScript: nothing in the database it checks is trusted to do it.
 */
export async function verifyLedger(
  db: Db,
  input: VerifyLedgerInput = {},
): Promise<LedgerVerification> {
  const result: LedgerVerification = {
    projects: 0,
    customers: 0,
    entries: 0,
    unchainedEntries: 0,
    findings: [],
  }
  for (const projectId of await projectsToVerify(db, input.projectId)) {
    result.projects++
    await verifyProject(db, projectId, input.batch ?? 500, result)
  }
  return result
}

async function projectsToVerify(db: Db, projectId: string | undefined): Promise<string[]> {
  const found = await rows<{ id: string }>(
    db,
    projectId
      ? sql`select id from projects where id = ${projectId}`
      : sql`select id from projects order by id`,
  )
  if (projectId && found.length === 0) throw new NotFound('Project', projectId)
  return found.map((p) => p.id)
}

async function verifyProject(
  db: Db,
  projectId: string,
  batch: number,
  result: LedgerVerification,
): Promise<void> {
  const [genesis] = await rows<{ last: string }>(
    db,
    sql`select last_unchained_entry_id as last from ledger_chain_genesis where project_id = ${projectId}`,
  )
  const lastUnchained = Number(genesis?.last ?? 0)
  for (let after = 0; ; ) {
    const done = await db.transaction(
      async (tx) => {
        const customers = await rows<CustomerFacts>(
          tx,
          sql`select c.id, c.telegram_user_id, c.available, c.held, c.debt, c.ledger_head,
                (select coalesce(sum(g.remaining), 0) from grants g where g.project_id = c.project_id
                   and g.customer_id = c.id and g.remaining > 0) as lots,
                (select coalesce(sum(h.amount), 0) from holds h where h.project_id = c.project_id
                   and h.customer_id = c.id and h.status = 'active') as holds
              from customers c where c.project_id = ${projectId} and c.id > ${after}::int8
              order by c.id limit ${batch}`,
        )
        if (customers.length === 0) return true
        const walks = new Map(customers.map((c) => [String(c.id), startWalk()]))
        const first = String(customers[0]!.id)
        const last = String(customers[customers.length - 1]!.id)
        const byId = new Map(customers.map((c) => [String(c.id), c]))
        for (let cursor = { customer: first, entry: '0' }; ; ) {
          const page = await entriesAfter(tx, projectId, cursor, last)
          for (const entry of page) {
            const customer = byId.get(String(entry.customer_id))!
            step(walks.get(String(entry.customer_id))!, entry, {
              projectId,
              customer,
              lastUnchained,
            })
            result.entries++
            if (entry.hash === null && Number(entry.id) <= lastUnchained) result.unchainedEntries++
          }
          if (page.length < ENTRY_PAGE) break
          const tail = page[page.length - 1]!
          cursor = { customer: String(tail.customer_id), entry: String(tail.id) }
        }
        for (const customer of customers) {
          const walk = walks.get(String(customer.id))!
          const finding = walk.finding ?? closeWalk(walk, projectId, customer)
          if (finding) result.findings.push(finding)
        }
        result.customers += customers.length
        after = Number(last)
        return customers.length < batch
      },
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    )
    if (done) return
  }
}

/** The next page of entries of the batch's customers, in chain order (customer, then id). */
function entriesAfter(
  tx: Tx,
  projectId: string,
  cursor: { customer: string; entry: string },
  lastCustomer: string,
): Promise<EntryRow[]> {
  return rows<EntryRow>(
    tx,
    sql`select id, customer_id, kind, amount, held_change, debt_change, available_after, held_after,
          debt_after, lots::text as lots, grant_id, hold_id, reason, actor, idempotency_key,
          metadata::text as metadata, revenue_micros, cost_micros, usage::text as usage, ${microsSql(sql`created_at`)} as created_us, prev_hash, hash
        from ledger_entries
        where project_id = ${projectId} and customer_id <= ${lastCustomer}::int8
          and (customer_id, id) > (${cursor.customer}::int8, ${cursor.entry}::int8)
        order by customer_id, id limit ${ENTRY_PAGE}`,
  )
}

function startWalk(): Walk {
  return {
    available: 0,
    held: 0,
    debt: 0,
    head: null,
    chained: false,
    lastEntryId: null,
    finding: null,
  }
}

/** One entry of a customer's walk; stops checking at the customer's first finding. */
function step(
  walk: Walk,
  e: EntryRow,
  at: { projectId: string; customer: CustomerFacts; lastUnchained: number },
): void {
  const id = Number(e.id)
  walk.lastEntryId = id
  walk.available += Number(e.amount)
  walk.held += Number(e.held_change)
  walk.debt += Number(e.debt_change)
  if (walk.finding) return
  const broken = (problem: LedgerProblem, detail: string) => {
    walk.finding = findingOf(at.projectId, at.customer, id, problem, detail)
  }
  if (e.hash === null) {
    if (walk.chained || id > at.lastUnchained)
      broken('unchained', 'the entry carries no hash, although the chain had begun')
  } else {
    if (e.prev_hash !== walk.head)
      broken(
        'link',
        walk.head === null
          ? 'the entry links to a previous entry, but the chain has none before it'
          : "the entry's prev_hash is not the hash of the customer's previous entry: an entry was removed, moved or rewritten",
      )
    else if (recomputedHash(at.projectId, e) !== e.hash)
      broken('hash', "the entry's content no longer gives its hash: the entry was edited")
    walk.head = e.hash
    walk.chained = true
  }
  if (
    !walk.finding &&
    (Number(e.available_after) !== walk.available ||
      Number(e.held_after) !== walk.held ||
      Number(e.debt_after) !== walk.debt)
  )
    broken(
      'balance_after',
      `the balance after (${e.available_after}/${e.held_after}/${e.debt_after}) is not the running sum (${walk.available}/${walk.held}/${walk.debt})`,
    )
}

/** After a customer's last entry: the chain head and the cached balance. */
function closeWalk(walk: Walk, projectId: string, c: CustomerFacts): LedgerFinding | null {
  const problem = (kind: LedgerProblem, detail: string) =>
    findingOf(projectId, c, walk.lastEntryId, kind, detail)
  if ((c.ledger_head ?? null) !== walk.head)
    return problem(
      'head',
      "the customer's chain head is not the hash of its newest entry: entries were removed at the end, or the head was rewritten",
    )
  const cached = `${c.available}/${c.held}/${c.debt}`
  if (
    Number(c.available) !== walk.available ||
    Number(c.held) !== walk.held ||
    Number(c.debt) !== walk.debt
  )
    return problem(
      'cache_vs_ledger',
      `the cached balance (${cached}) is not the sum of the entries (${walk.available}/${walk.held}/${walk.debt})`,
    )
  if (Number(c.available) !== Number(c.lots))
    return problem(
      'cache_vs_lots',
      `the cached available (${c.available}) is not the lots' remaining credits (${c.lots})`,
    )
  if (Number(c.held) !== Number(c.holds))
    return problem(
      'cache_vs_holds',
      `the cached held (${c.held}) is not the open holds (${c.holds})`,
    )
  return null
}

function findingOf(
  projectId: string,
  c: CustomerFacts,
  entryId: number | null,
  problem: LedgerProblem,
  detail: string,
): LedgerFinding {
  return {
    projectId,
    customerId: Number(c.id),
    telegramUserId: Number(c.telegram_user_id),
    entryId,
    problem,
    detail,
  }
}

/** The entry's hash from its stored content and its stored `prev_hash`. */
function recomputedHash(projectId: string, e: EntryRow): string {
  const digest = contentDigest({
    projectId,
    kind: e.kind,
    amount: Number(e.amount),
    heldChange: Number(e.held_change),
    debtChange: Number(e.debt_change),
    grantId: e.grant_id === null ? null : Number(e.grant_id),
    holdId: e.hold_id,
    reason: e.reason,
    actor: e.actor,
    idempotencyKey: e.idempotency_key,
    metadata: e.metadata === null ? null : JSON.parse(e.metadata),
    revenueMicros: e.revenue_micros === null ? null : Number(e.revenue_micros),
    costMicros: e.cost_micros === null ? null : Number(e.cost_micros),
    usage: e.usage === null ? null : JSON.parse(e.usage),
  })
  return entryHash(e.prev_hash, digest, {
    customerId: e.customer_id,
    availableAfter: e.available_after,
    heldAfter: e.held_after,
    debtAfter: e.debt_after,
    lots: lotsText(JSON.parse(e.lots) as Array<{ lotId: number; amount: number }>),
    createdAtMicros: e.created_us,
  })
}
