/**
 * The previous release, frozen, for the upgrade test (upgrade.test.ts, docs/deploy.md "Upgrades").
 *
 * No version tag exists yet (the first public release is a pending changeset), so "the last
 * released schema" is the schema main served before the newest migration:
 * PREVIOUS_MIGRATION and every migration before it. When a release is cut, move
 * PREVIOUS_MIGRATION to its last migration and, if the engine's write statements changed,
 * refresh the statements below from that release's code.
 *
 * What follows is that release's code, copied rather than imported so that a change to the
 * current engine cannot change it: its request fingerprint and chain digest, its one-statement
 * consume, its `appendEntry`, and the plain inserts it made for projects, keys, customers,
 * payments and sessions, each with that schema's column list. A replica of the previous version
 * still serving during an upgrade runs exactly these statements against the migrated schema.
 */
import { createHash } from 'node:crypto'
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Executor, migrationsFolder, rows } from '@e-stars/db'
import { type SQL, sql } from 'drizzle-orm'

/** The last migration of the previous release (commit d6cd90e^, before 0009 landed). */
export const PREVIOUS_MIGRATION = '0008_drop_login_attempts'

/** A migrations folder holding the previous release's migrations only (SQL and journal). */
export function previousMigrationsFolder(): string {
  const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8'))
  const last = journal.entries.findIndex((e: { tag: string }) => e.tag === PREVIOUS_MIGRATION)
  if (last < 0) throw new Error(`${PREVIOUS_MIGRATION} is not in the journal`)
  const folder = mkdtempSync(join(tmpdir(), 'estars-previous-'))
  const entries = journal.entries.slice(0, last + 1)
  for (const entry of entries)
    cpSync(join(migrationsFolder, `${entry.tag}.sql`), join(folder, `${entry.tag}.sql`))
  cpSync(join(migrationsFolder, 'meta'), join(folder, 'meta'), { recursive: true })
  writeFileSync(join(folder, 'meta', '_journal.json'), JSON.stringify({ ...journal, entries }))
  return folder
}

// ---- the previous release's hashing (packages/billing/src/ledger/{chain,idempotency}.ts) ----

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex')

function chainJson(value: unknown): string {
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

interface EntryContent {
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
}

function contentDigest(c: EntryContent): string {
  return sha256(
    chainJson([
      1,
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
    ]),
  )
}

function requestJson(value: unknown): string {
  if (value === undefined) return 'null'
  if (value instanceof Date) return JSON.stringify(value.toISOString())
  if (Array.isArray(value)) return `[${value.map(requestJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${requestJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

function hashRequest(operation: string, request: unknown): string {
  return createHash('sha256')
    .update(operation)
    .update('\0')
    .update(requestJson(request))
    .digest('base64url')
}

const microsSql = (instant: SQL) => sql`(extract(epoch from ${instant}) * 1000000)::int8`

function chainedHashSql(
  prevHash: SQL,
  digest: string,
  seal: {
    customerId: SQL
    availableAfter: SQL
    heldAfter: SQL
    debtAfter: SQL
    lots: SQL
    createdAtMicros: SQL
  },
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

const burnOrder = sql`expires_at asc nulls last, priority desc, id asc`

// ---- the previous release's writes ----

export async function insertProject(db: Executor, name: string): Promise<string> {
  const [row] = await rows<{ id: string }>(
    db,
    sql`insert into projects (name, time_zone, refund_policy, low_balance_threshold)
        values (${name}, 'UTC', 'debt', 0) returning id`,
  )
  return row!.id
}

/** An API key as the previous release stored it (the plain key is returned, its SHA-256 kept). */
export async function insertApiKey(db: Executor, projectId: string, key: string): Promise<void> {
  await db.execute(
    sql`insert into api_keys (project_id, name, prefix, key_hash)
        values (${projectId}, 'bot', ${key.slice(0, 10)}, ${createHash('sha256').update(key).digest('hex')})`,
  )
}

export async function insertCustomer(
  db: Executor,
  projectId: string,
  telegramUserId: number,
  firstName: string,
): Promise<number> {
  const [row] = await rows<{ id: string }>(
    db,
    sql`insert into customers (project_id, telegram_user_id, first_name, username, language_code)
        values (${projectId}, ${telegramUserId}, ${firstName}, ${firstName.toLowerCase()}, 'en')
        returning id`,
  )
  return Number(row!.id)
}

/** The previous release's `appendEntry` (a grant's credit, a hold's move; lots already changed). */
async function appendEntry(
  tx: Executor,
  customer: { projectId: string; id: number },
  draft: {
    kind: string
    amount: number
    heldChange?: number
    grantId?: number | null
    holdId?: string | null
    reason: string
    actor: string
    idempotencyKey?: string | null
    metadata?: Record<string, unknown> | null
    nextExpiryAt?: Date | null
    /** Lot changes the entry records (a hold's debit); the caller has applied them. */
    lots?: Array<{ lotId: number; amount: number }>
  },
): Promise<number> {
  const lots = draft.lots ?? []
  const heldChange = draft.heldChange ?? 0
  const digest = contentDigest({
    projectId: customer.projectId,
    kind: draft.kind,
    amount: draft.amount,
    heldChange,
    debtChange: 0,
    grantId: draft.grantId ?? null,
    holdId: draft.holdId ?? null,
    reason: draft.reason,
    actor: draft.actor,
    idempotencyKey: draft.idempotencyKey ?? null,
    metadata: draft.metadata ?? null,
  })
  const head = chainedHashSql(sql`ledger_head`, digest, {
    customerId: sql`id`,
    availableAfter: sql`available + ${draft.amount}::int8`,
    heldAfter: sql`held + ${heldChange}::int8`,
    debtAfter: sql`debt`,
    lots: sql`${lots.map((l) => `${l.lotId}:${l.amount}`).join(',')}::text`,
    createdAtMicros: microsSql(sql`now()`),
  })
  const nextExpiry =
    draft.nextExpiryAt !== undefined
      ? sql`least(next_expiry_at, ${draft.nextExpiryAt ? draft.nextExpiryAt.toISOString() : null}::timestamptz)`
      : sql`next_expiry_at`
  const [row] = await rows<{ id: string }>(
    tx,
    sql`with head_before as (
        select ledger_head from customers where project_id = ${customer.projectId} and id = ${customer.id}
      ),
      customer_after as (
        update customers set available = available + ${draft.amount}::int8,
          held = held + ${heldChange}::int8, next_expiry_at = ${nextExpiry},
          last_active_at = now(), ledger_head = ${head}
        where project_id = ${customer.projectId} and id = ${customer.id}
        returning available, held, debt, ledger_head
      )
      insert into ledger_entries (project_id, customer_id, kind, amount, held_change, debt_change,
        available_after, held_after, debt_after, lots, grant_id, hold_id, reason, actor, idempotency_key, metadata,
        created_at, prev_hash, hash)
      select ${customer.projectId}, ${customer.id}, ${draft.kind}, ${draft.amount}::int8, ${heldChange}::int8,
        0, available, held, debt, ${JSON.stringify(lots)}::jsonb, ${draft.grantId ?? null}::int8,
        ${draft.holdId ?? null}::uuid, ${draft.reason}, ${draft.actor}, ${draft.idempotencyKey ?? null},
        ${draft.metadata ? JSON.stringify(draft.metadata) : null}::jsonb,
        now(), (select ledger_head from head_before), ledger_head
      from customer_after
      returning id`,
  )
  return Number(row!.id)
}

/**
 * A paid order's credits as the previous release recorded them: the payment row (that schema's
 * columns only), its lot, and the grant entry, in one transaction.
 */
export async function recordPaidPack(
  db: Executor,
  input: {
    projectId: string
    customerId: number
    telegramUserId: number
    chargeId: string
    stars: number
    credits: number
    expiresAt?: Date | null
  },
): Promise<{ paymentId: number; lotId: number }> {
  return db.transaction(async (tx) => {
    const [payment] = await rows<{ id: string }>(
      tx,
      sql`insert into payments (project_id, telegram_payment_charge_id, provider_payment_charge_id,
            customer_id, telegram_user_id, product_key, amount_stars, currency, invoice_payload,
            is_recurring, status, recorded_via, paid_at)
          values (${input.projectId}, ${input.chargeId}, null, ${input.customerId}, ${input.telegramUserId},
            'pack_100', ${input.stars}, 'XTR', ${`payload-${input.chargeId}`}, false, 'paid', 'relay', now())
          returning id`,
    )
    const paymentId = Number(payment!.id)
    const [lot] = await rows<{ id: string }>(
      tx,
      sql`insert into grants (project_id, customer_id, amount, remaining, source, reason, priority, expires_at, payment_id)
          values (${input.projectId}, ${input.customerId}, ${input.credits}, ${input.credits}, 'payment',
            'pack_100', 0, ${input.expiresAt ? input.expiresAt.toISOString() : null}::timestamptz, ${paymentId})
          returning id`,
    )
    const lotId = Number(lot!.id)
    await appendEntry(
      tx,
      { projectId: input.projectId, id: input.customerId },
      {
        kind: 'grant',
        amount: input.credits,
        grantId: lotId,
        reason: 'pack_100',
        actor: `payment:${input.chargeId}`,
        idempotencyKey: `payment:${input.chargeId}`,
        nextExpiryAt: input.expiresAt ?? null,
      },
    )
    return { paymentId, lotId }
  })
}

/** A hold as the previous release opened it: the hold row, its lots' credits moved, the entry. */
export async function openHold(
  db: Executor,
  input: { projectId: string; customerId: number; amount: number; lotId: number; key: string },
): Promise<string> {
  return db.transaction(async (tx) => {
    const [hold] = await rows<{ id: string }>(
      tx,
      sql`insert into holds (project_id, customer_id, amount, allocations, reason, status, expires_at)
          values (${input.projectId}, ${input.customerId}, ${input.amount},
            ${JSON.stringify([{ lotId: input.lotId, amount: input.amount }])}::jsonb, 'answer',
            'active', now() + interval '10 minutes')
          returning id`,
    )
    await tx.execute(
      sql`update grants set remaining = remaining - ${input.amount}::int8
          where project_id = ${input.projectId} and id = ${input.lotId}`,
    )
    const holdId = hold!.id
    await appendEntry(
      tx,
      { projectId: input.projectId, id: input.customerId },
      {
        kind: 'hold',
        amount: -input.amount,
        heldChange: input.amount,
        holdId,
        lots: [{ lotId: input.lotId, amount: -input.amount }],
        reason: 'answer',
        actor: 'api',
        idempotencyKey: input.key,
      },
    )
    return holdId
  })
}

export interface OldConsumeInput {
  projectId: string
  telegramUserId: number
  amount: number
  idempotencyKey: string
  actor: string
  reason: string
}

export interface OldConsumeResult {
  entryId: number
  consumed: number
  available: number
  held: number
  debt: number
}

/**
 * The previous release's consume (`consumeAtOnce`, its hot path): claim the key under the
 * customer's lock, then debit the live lots in burn order, move the cached balance and the chain
 * head, append the entry and store the response, in one statement. Returns null where that
 * release handed the call on to its general path (too few credits, a blocked customer, a key
 * already claimed).
 */
export async function consumeAtOnce(
  db: Executor,
  input: OldConsumeInput,
): Promise<OldConsumeResult | null> {
  const n = input.amount
  const p = input.projectId
  const now = new Date().toISOString()
  const { idempotencyKey: _key, ...request } = input
  const requestHash = hashRequest('consume', request)
  const digest = contentDigest({
    projectId: p,
    kind: 'consume',
    amount: -n,
    heldChange: 0,
    debtChange: 0,
    grantId: null,
    holdId: null,
    reason: input.reason,
    actor: input.actor,
    idempotencyKey: input.idempotencyKey,
    metadata: null,
  })
  return db.transaction(async (tx) => {
    const [claim] = await rows<{ key: string }>(
      tx,
      sql`with cust as (
            select c.id, c.available, c.next_expiry_at, c.blocked_at, pr.low_balance_threshold as threshold
            from customers c join projects pr on pr.id = c.project_id
            where c.project_id = ${p} and c.telegram_user_id = ${input.telegramUserId}
            for update of c
          )
          insert into idempotency_keys (project_id, key, operation, request_hash, response)
          select ${p}, ${input.idempotencyKey}, 'consume', ${requestHash}, null
          from cust where cust.blocked_at is null and cust.available >= ${n}::int8
            and (cust.next_expiry_at is null or cust.next_expiry_at > ${now}::timestamptz)
            and not (cust.threshold > 0 and cust.available >= cust.threshold
                     and cust.available - ${n}::int8 < cust.threshold)
          on conflict do nothing
          returning key`,
    )
    if (!claim) return null
    const [done] = await rows<{ response: OldConsumeResult | string | null }>(
      tx,
      sql`with live as (
            select id, remaining, sum(remaining) over (order by ${burnOrder}) as upto from grants
            where project_id = ${p}
              and customer_id = (select id from customers where project_id = ${p} and telegram_user_id = ${input.telegramUserId})
              and remaining > 0 and (expires_at is null or expires_at > ${now}::timestamptz)
          ),
          take as (
            select id, least(remaining, ${n}::int8 - (upto - remaining)) as amount, upto
            from live where upto - remaining < ${n}::int8
          ),
          enough as (select 1 where (select coalesce(sum(amount), 0) from take) = ${n}::int8),
          lot_changes as (
            update grants g set remaining = g.remaining - take.amount from take
            where exists (select 1 from enough) and g.project_id = ${p} and g.id = take.id
            returning g.id
          ),
          head_before as (
            select ledger_head from customers where project_id = ${p} and telegram_user_id = ${input.telegramUserId}
          ),
          customer_after as (
            update customers c set available = c.available - ${n}::int8, last_active_at = now(),
              ledger_head = ${chainedHashSql(sql`c.ledger_head`, digest, {
                customerId: sql`c.id`,
                availableAfter: sql`c.available - ${n}::int8`,
                heldAfter: sql`c.held`,
                debtAfter: sql`c.debt`,
                lots: sql`(select string_agg(id::text || ':' || (-amount)::text, ',' order by upto) from take)`,
                createdAtMicros: microsSql(sql`now()`),
              })}
            where exists (select 1 from enough) and c.project_id = ${p} and c.telegram_user_id = ${input.telegramUserId}
            returning c.id, c.available, c.held, c.debt, c.ledger_head
          ),
          entry as (
            insert into ledger_entries (project_id, customer_id, kind, amount, held_change, debt_change,
              available_after, held_after, debt_after, lots, reason, actor, idempotency_key, metadata,
              created_at, prev_hash, hash)
            select ${p}, customer_after.id, 'consume', -${n}::int8, 0, 0,
              customer_after.available, customer_after.held, customer_after.debt,
              (select coalesce(jsonb_agg(jsonb_build_object('lotId', id, 'amount', -amount) order by upto), '[]'::jsonb) from take),
              ${input.reason}, ${input.actor}, ${input.idempotencyKey}, null::jsonb,
              now(), (select ledger_head from head_before), customer_after.ledger_head
            from customer_after
            returning id, available_after, held_after, debt_after
          )
          update idempotency_keys set response = (
            select jsonb_build_object('entryId', id, 'consumed', ${n}::int8,
              'available', available_after, 'held', held_after, 'debt', debt_after) from entry)
          where project_id = ${p} and key = ${input.idempotencyKey} and exists (select 1 from entry)
          returning response`,
    )
    if (!done?.response) throw new Error('the previous release would have taken its general path')
    const response = done.response
    return (typeof response === 'string' ? JSON.parse(response) : response) as OldConsumeResult
  })
}

/** A Mini App session as the previous release stored it (token kept as its SHA-256). */
export async function insertCustomerSession(
  db: Executor,
  input: { projectId: string; customerId: number; telegramUserId: number; token: string },
): Promise<void> {
  await db.execute(
    sql`insert into customer_sessions (project_id, token_hash, customer_id, telegram_user_id, auth_date, expires_at)
        values (${input.projectId}, ${createHash('sha256').update(input.token).digest('hex')},
          ${input.customerId}, ${input.telegramUserId}, now(), now() + interval '1 day')`,
  )
}

/** An operator, their membership, and a console session, as the previous release stored them. */
export async function insertOperatorSession(
  db: Executor,
  input: { projectId: string; email: string; token: string; csrf: string },
): Promise<string> {
  const [operator] = await rows<{ id: string }>(
    db,
    sql`insert into operators (email, name, password_hash)
        values (${input.email}, 'Olga', 'scrypt$not-used-by-this-test') returning id`,
  )
  await db.execute(
    sql`insert into project_members (project_id, operator_id, role)
        values (${input.projectId}, ${operator!.id}, 'owner')`,
  )
  await db.execute(
    sql`insert into operator_sessions (token_hash, operator_id, csrf_token, expires_at)
        values (${createHash('sha256').update(input.token).digest('hex')}, ${operator!.id}, ${input.csrf},
          now() + interval '1 day')`,
  )
  return operator!.id
}

/** What the previous release read back: its own column lists, no `select *`. */
export const previousReads = {
  balance: (projectId: string, telegramUserId: number) =>
    sql`select id, available, held, debt, next_expiry_at, blocked_at, ledger_head from customers
        where project_id = ${projectId} and telegram_user_id = ${telegramUserId}`,
  ledger: (projectId: string) =>
    sql`select id, customer_id, kind, amount, held_change, debt_change, available_after, held_after,
          debt_after, lots, grant_id, hold_id, reason, actor, idempotency_key, metadata, created_at,
          prev_hash, hash
        from ledger_entries where project_id = ${projectId} order by id`,
  payments: (projectId: string) =>
    sql`select id, telegram_payment_charge_id, customer_id, telegram_user_id, product_key, amount_stars,
          currency, status, recorded_via, refunded_at
        from payments where project_id = ${projectId} order by id`,
  lots: (projectId: string) =>
    sql`select id, customer_id, amount, remaining, source, priority, expires_at, payment_id
        from grants where project_id = ${projectId} order by id`,
}
