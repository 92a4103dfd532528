import { type Db, rows } from '@e-stars/db'
import { type SQL, sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import {
  adjustCredits,
  consume,
  createInvoice,
  expireDue,
  recordAudit,
  recordPayment,
  recordRefund,
  release,
  reserve,
  settle,
  verifyLedger,
} from '../src/index.ts'
import { chainFrom, contentDigest, entryHash, lotsText } from '../src/ledger/chain.ts'
import { consumeInTransaction } from '../src/usage/consume.ts'
import { createProject, fund, key, ledgerMismatches, useDatabase } from './fixtures.ts'
import { secrets, shopProject } from './payments-fixtures.ts'

const t = useDatabase()

const use = (projectId: string, telegramUserId: number, amount: number, extra = {}) =>
  consume(t.db, {
    projectId,
    telegramUserId,
    amount,
    reason: 'AI answer',
    actor: 'test',
    idempotencyKey: key(),
    ...extra,
  })

/** A customer with a few entries through both consume paths; returns its entry ids in order. */
async function smallLedger(projectId: string, user: number) {
  await fund(t.db, projectId, user, 100)
  await use(projectId, user, 10) // the one-statement path
  await consumeInTransaction(t.db, {
    projectId,
    telegramUserId: user,
    amount: 5,
    reason: 'general path',
    actor: 'test',
    idempotencyKey: key(),
  })
  await use(projectId, user, 7)
  return entryIds(projectId)
}

async function entryIds(projectId: string) {
  const found = await rows<{ id: string }>(
    t.db,
    sql`select id from ledger_entries where project_id = ${projectId} order by id`,
  )
  return found.map((e) => Number(e.id))
}

type StoredEntry = Record<string, string | null>

async function storedEntries(projectId: string, id?: number): Promise<StoredEntry[]> {
  return rows<StoredEntry>(
    t.db,
    sql`select id, customer_id, kind, amount, held_change, debt_change, available_after, held_after,
          debt_after, lots::text as lots, grant_id, hold_id, reason, actor, idempotency_key,
          metadata::text as metadata, (extract(epoch from created_at) * 1000000)::int8 as created_us,
          prev_hash, hash
        from ledger_entries where project_id = ${projectId} ${id ? sql`and id = ${id}` : sql``}
        order by id`,
  )
}

/** A stored entry's digest and seal, read back the way the verifier reads them. */
function contentOf(projectId: string, e: StoredEntry) {
  return {
    digest: contentDigest({
      projectId,
      kind: String(e.kind),
      amount: Number(e.amount),
      heldChange: Number(e.held_change),
      debtChange: Number(e.debt_change),
      grantId: e.grant_id === null ? null : Number(e.grant_id),
      holdId: e.hold_id ?? null,
      reason: String(e.reason),
      actor: String(e.actor),
      idempotencyKey: e.idempotency_key ?? null,
      metadata: e.metadata === null ? null : JSON.parse(String(e.metadata)),
    }),
    seal: {
      customerId: String(e.customer_id),
      availableAfter: String(e.available_after),
      heldAfter: String(e.held_after),
      debtAfter: String(e.debt_after),
      lots: lotsText(JSON.parse(String(e.lots))),
      createdAtMicros: String(e.created_us),
    },
  }
}

/** What an attacker with database access does: the trigger off, one statement, the trigger on. */
async function behindTheEnginesBack(db: Db, statement: SQL) {
  await db.transaction(async (tx) => {
    await tx.execute(sql`alter table ledger_entries disable trigger ledger_entries_append_only`)
    await tx.execute(statement)
    await tx.execute(sql`alter table ledger_entries enable trigger ledger_entries_append_only`)
  })
}

const refusal =
  /^(UPDATE|DELETE|TRUNCATE) on (ledger_entries|audit_log|ledger_chain_genesis) refused: the table is append-only$/

/** The database's own message (Drizzle wraps it in "Failed query: …"). */
async function refusalOf(statement: Promise<unknown>): Promise<string> {
  const error = await statement.then(
    () => new Error('the statement was not refused'),
    (e: unknown) => e as Error & { cause?: Error },
  )
  return (error as { cause?: Error }).cause?.message ?? error.message
}

describe('the ledger and the audit log are append-only in the database', () => {
  it('refuses UPDATE, DELETE and TRUNCATE on ledger_entries, audit_log and the chain genesis', async () => {
    const p = await createProject(t.db)
    await smallLedger(p, 1)
    await recordAudit(t.db, { projectId: p, actor: 'operator:x', action: 'credits.grant' })
    const attempts = [
      sql`update ledger_entries set amount = amount + 1 where project_id = ${p}`,
      sql`delete from ledger_entries where project_id = ${p}`,
      sql`truncate ledger_entries cascade`,
      sql`update audit_log set actor = 'someone else' where project_id = ${p}`,
      sql`delete from audit_log where project_id = ${p}`,
      sql`truncate audit_log`,
      sql`update ledger_chain_genesis set last_unchained_entry_id = 1000000`,
      sql`delete from ledger_chain_genesis`,
      sql`truncate ledger_chain_genesis`,
    ]
    for (const attempt of attempts) expect(await refusalOf(t.db.execute(attempt))).toMatch(refusal)
    expect((await entryIds(p)).length).toBe(4)
    const [audit] = await rows<{ actor: string }>(
      t.db,
      sql`select actor from audit_log where project_id = ${p}`,
    )
    expect(audit?.actor).toBe('operator:x')
  })

  it('lets a rewrite through only where it says so, for its own transaction', async () => {
    const p = await createProject(t.db)
    await smallLedger(p, 1)
    await t.db.transaction(async (tx) => {
      await tx.execute(
        sql`set local e_stars.ledger_rewrite = 'migration 9999_test: a test rewrite'`,
      )
      await tx.execute(sql`update ledger_entries set reason = 'rewritten' where project_id = ${p}`)
    })
    expect(
      await refusalOf(
        t.db.execute(sql`update ledger_entries set reason = 'again' where project_id = ${p}`),
      ),
    ).toMatch(refusal)
    // The rewrite is allowed, not hidden: the chain names the first rewritten entry.
    const [first] = await entryIds(p)
    expect((await verifyLedger(t.db, { projectId: p })).findings).toMatchObject([
      { entryId: first, problem: 'hash' },
    ])
  })
})

describe('the hash chain and its verifier', () => {
  it('a mixed workload verifies clean: grants, both consume paths, holds, refund with debt, expiry, adjust', async () => {
    const p = await shopProject(t.db, 'chain shop')
    const user = 3_000_001
    const now = new Date()
    await fund(t.db, p, user, 40, { expiresAt: new Date(now.getTime() + 60_000), now })
    const invoice = await createInvoice(t.db, {
      projectId: p,
      telegramUserId: user,
      productKey: 'pack_s',
      secrets,
    })
    const paid = await recordPayment(t.db, {
      projectId: p,
      secrets,
      via: 'api',
      from: { id: user, first_name: 'Ana' },
      payment: {
        currency: 'XTR',
        total_amount: invoice.priceStars,
        invoice_payload: invoice.payload,
        telegram_payment_charge_id: `stx-chain-${key()}`,
      },
    })
    // Metadata that only survives a canonical encoding: key order, non-ASCII, big and odd numbers.
    await fund(t.db, p, user, 25)
    await adjustCredits(t.db, {
      projectId: p,
      telegramUserId: user,
      amount: 30,
      reason: 'goodwill — für Ü 🎁',
      actor: 'operator:op@example.test',
      idempotencyKey: key(),
    })
    await use(p, user, 3, {
      metadata: { z: 1, a: { y: 'ü😀\n"q"', b: [1, 2.5, 1e21, -0] }, u: undefined },
    })
    await consumeInTransaction(t.db, {
      projectId: p,
      telegramUserId: user,
      amount: 4,
      reason: 'general',
      actor: 'test',
      idempotencyKey: key(),
      metadata: { model: 'm', tokens: 12 },
    })
    const held = await reserve(t.db, {
      projectId: p,
      telegramUserId: user,
      amount: 20,
      reason: 'AI call',
      actor: 'test',
      idempotencyKey: key(),
    })
    await settle(t.db, {
      projectId: p,
      actor: 't',
      holdId: held.holdId,
      amount: 12,
      idempotencyKey: key(),
    })
    const other = await reserve(t.db, {
      projectId: p,
      telegramUserId: user,
      amount: 9,
      reason: 'AI call',
      actor: 'test',
      idempotencyKey: key(),
    })
    await release(t.db, {
      projectId: p,
      actor: 't',
      holdId: other.holdId.toUpperCase(),
      idempotencyKey: key(),
    })
    await adjustCredits(t.db, {
      projectId: p,
      telegramUserId: user,
      amount: -2,
      reason: 'correction',
      actor: 'operator:op@example.test',
      idempotencyKey: key(),
    })
    await use(p, user, 138) // more than the lots besides the pack: the refund leaves a debt
    const refund = await recordRefund(t.db, {
      projectId: p,
      via: 'api',
      from: { id: user, first_name: 'Ana' },
      refund: {
        currency: 'XTR',
        total_amount: invoice.priceStars,
        invoice_payload: invoice.payload,
        telegram_payment_charge_id: paid.telegramPaymentChargeId,
      },
    })
    expect(refund.debtAdded).toBeGreaterThan(0)
    await fund(t.db, p, user, 10) // repays part of the debt
    await fund(t.db, p, user + 1, 5, { expiresAt: new Date(now.getTime() + 1_000), now })
    expect(await expireDue(t.db, { now: new Date(now.getTime() + 120_000) })).toBeGreaterThan(0)

    const verification = await verifyLedger(t.db, { projectId: p })
    expect(verification.findings).toEqual([])
    expect(verification).toMatchObject({ projects: 1, customers: 2, unchainedEntries: 0 })
    const kinds = await rows<{ kind: string }>(
      t.db,
      sql`select distinct kind from ledger_entries where project_id = ${p} order by kind`,
    )
    expect(kinds.map((k) => k.kind)).toEqual(
      expect.arrayContaining([
        'adjust',
        'consume',
        'expire',
        'grant',
        'hold',
        'release',
        'revoke',
        'settle',
      ]),
    )
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('the chain is computable in TypeScript from the head: what a grouped write needs', async () => {
    const p = await createProject(t.db)
    await smallLedger(p, 1)
    const entries = await storedEntries(p)
    const links = chainFrom(
      null,
      entries.map((e) => contentOf(p, e)),
    )
    expect(links.map((l) => l.hash)).toEqual(entries.map((e) => e.hash))
    const [head] = await rows<{ ledger_head: string }>(
      t.db,
      sql`select ledger_head from customers where project_id = ${p}`,
    )
    expect(head?.ledger_head).toBe(links[links.length - 1]!.hash)
  })

  it('finds an amount edited behind the engine’s back and names that entry', async () => {
    const p = await createProject(t.db)
    await smallLedger(p, 1)
    const clean = await smallLedger(p, 2)
    const victim = clean[clean.length - 2]!
    expect((await verifyLedger(t.db, { projectId: p })).findings).toEqual([])
    await behindTheEnginesBack(
      t.db,
      sql`update ledger_entries set amount = amount + 5 where project_id = ${p} and id = ${victim}`,
    )
    const { findings } = await verifyLedger(t.db, { projectId: p })
    expect(findings).toEqual([
      expect.objectContaining({
        projectId: p,
        telegramUserId: 2,
        entryId: victim,
        problem: 'hash',
      }),
    ])
  })

  it('finds an edit whose attacker also recomputed its hash: the next entry no longer links', async () => {
    const p = await createProject(t.db)
    const ids = await smallLedger(p, 1)
    await behindTheEnginesBack(
      t.db,
      sql`update ledger_entries set reason = 'quiet' where project_id = ${p} and id = ${ids[1]}`,
    )
    const [edited] = await storedEntries(p, ids[1])
    const { digest, seal } = contentOf(p, edited!)
    const rehashed = entryHash(edited!.prev_hash ?? null, digest, seal)
    await behindTheEnginesBack(
      t.db,
      sql`update ledger_entries set hash = ${rehashed} where project_id = ${p} and id = ${ids[1]}`,
    )
    expect((await verifyLedger(t.db, { projectId: p })).findings).toMatchObject([
      { entryId: ids[2], problem: 'link' },
    ])
  })

  it('finds a deleted entry (the next one does not link) and a deleted newest entry (the head)', async () => {
    const p = await createProject(t.db)
    const middle = await smallLedger(p, 1)
    const tail = await smallLedger(p, 2)
    await behindTheEnginesBack(
      t.db,
      sql`delete from ledger_entries where project_id = ${p} and id in (${middle[1]}, ${tail[tail.length - 1]})`,
    )
    const { findings } = await verifyLedger(t.db, { projectId: p })
    expect(findings).toMatchObject([
      { telegramUserId: 1, entryId: middle[2], problem: 'link' },
      { telegramUserId: 2, entryId: tail[tail.length - 2], problem: 'head' },
    ])
  })

  it('finds a re-ordered chain: two entries’ contents swapped', async () => {
    const p = await createProject(t.db)
    const ids = await smallLedger(p, 1)
    const [a, b] = [ids[1]!, ids[2]!]
    const columns = sql.raw(
      [
        'kind',
        'amount',
        'held_change',
        'debt_change',
        'available_after',
        'held_after',
        'debt_after',
        'lots',
        'reason',
        'actor',
        'idempotency_key',
        'metadata',
        'created_at',
        'prev_hash',
        'hash',
      ]
        .map((c) => `${c} = o.${c}`)
        .join(', '),
    )
    await behindTheEnginesBack(
      t.db,
      sql`update ledger_entries e set ${columns} from ledger_entries o
          where e.project_id = ${p} and o.project_id = ${p}
            and ((e.id = ${a} and o.id = ${b}) or (e.id = ${b} and o.id = ${a}))`,
    )
    expect((await verifyLedger(t.db, { projectId: p })).findings).toMatchObject([
      { entryId: a, problem: 'link' },
    ])
  })

  it('finds an entry written without a hash after the chain began, and a cache that drifted', async () => {
    const p = await createProject(t.db)
    await smallLedger(p, 1)
    const ids = await smallLedger(p, 2)
    const [customer] = await rows<{ id: string }>(
      t.db,
      sql`select id from customers where project_id = ${p} and telegram_user_id = 1`,
    )
    const [forged] = await rows<{ id: string }>(
      t.db,
      sql`insert into ledger_entries (project_id, customer_id, kind, amount, available_after, held_after, debt_after, reason, actor)
          values (${p}, ${customer!.id}, 'grant', 0, 78, 0, 0, 'forged', 'nobody') returning id`,
    )
    await t.db.execute(
      sql`update customers set available = available + 1 where project_id = ${p} and telegram_user_id = 2`,
    )
    const { findings } = await verifyLedger(t.db, { projectId: p })
    expect(findings).toMatchObject([
      { telegramUserId: 1, entryId: Number(forged!.id), problem: 'unchained' },
      { telegramUserId: 2, entryId: ids[ids.length - 1], problem: 'cache_vs_ledger' },
    ])
  })

  it('accepts the entries written before the chain began, and still checks their balances', async () => {
    const p = await createProject(t.db)
    const [customer] = await rows<{ id: string }>(
      t.db,
      sql`insert into customers (project_id, telegram_user_id) values (${p}, 1) returning id`,
    )
    // As 0007_append_only_ledger found them: entries and a lot from before the chain, no hashes.
    const [old] = await rows<{ id: string }>(
      t.db,
      sql`with lot as (
            insert into grants (project_id, customer_id, amount, remaining, source, reason)
            values (${p}, ${customer!.id}, 50, 50, 'promo', 'old') returning id
          ), cached as (
            update customers set available = 50 where project_id = ${p} and id = ${customer!.id}
          )
          insert into ledger_entries (project_id, customer_id, kind, amount, available_after, held_after, debt_after, grant_id, reason, actor)
          select ${p}, ${customer!.id}, 'grant', 50, 50, 0, 0, lot.id, 'old', 'test' from lot returning id`,
    )
    await t.db.execute(
      sql`insert into ledger_chain_genesis (project_id, last_unchained_entry_id) values (${p}, ${old!.id})`,
    )
    await use(p, 1, 20)
    await fund(t.db, p, 1, 5)
    const verification = await verifyLedger(t.db, { projectId: p })
    expect(verification).toMatchObject({ findings: [], unchainedEntries: 1, entries: 3 })
  })
})
