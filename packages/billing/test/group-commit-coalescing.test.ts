import { rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  consume,
  getBalance,
  groupCommitStats,
  InsufficientCredits,
  verifyLedger,
} from '../src/index.ts'
import {
  countEntries,
  createProject,
  fund,
  key,
  ledgerMismatches,
  useDatabase,
} from './fixtures.ts'

/**
 * What group commit must achieve, counted: concurrent consumes of one hot customer are one
 * batch, one lock of its row and ONE write of it (and of each lot they burn), not one per call.
 * Row writes are counted by a trigger the test adds, so the count is the database's own.
 */
describe('group commit coalesces a hot customer', () => {
  const t = useDatabase({ poolSize: 8 })

  beforeAll(async () => {
    await t.db.execute(sql`create table row_writes (tbl text, id int8)`)
    await t.db.execute(sql`create function note_row_write() returns trigger language plpgsql as $$
      begin insert into row_writes values (tg_table_name, new.id); return new; end $$`)
    for (const table of ['customers', 'grants']) {
      await t.db.execute(
        sql.raw(`create trigger note_${table} after update on ${table}
                 for each row execute function note_row_write()`),
      )
    }
  })

  async function writes(table: string, id: number) {
    const [row] = await rows<{ n: string }>(
      t.db,
      sql`select count(*) n from row_writes where tbl = ${table} and id = ${id}`,
    )
    return Number(row!.n)
  }

  async function customerId(projectId: string, telegramUserId: number) {
    const [row] = await rows<{ id: string }>(
      t.db,
      sql`select id from customers where project_id = ${projectId} and telegram_user_id = ${telegramUserId}`,
    )
    return Number(row!.id)
  }

  it('50 concurrent consumes of one customer: one batch, one customer-row write, one write per lot burned', async () => {
    const p = await createProject(t.db)
    const first = await fund(t.db, p, 7, 30)
    const second = await fund(t.db, p, 7, 100)
    const id = await customerId(p, 7)
    await t.db.execute(sql`delete from row_writes`)
    const before = groupCommitStats(t.db)
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        consume(t.db, {
          projectId: p,
          telegramUserId: 7,
          amount: 2,
          reason: 'answer',
          actor: 'bot',
          idempotencyKey: `hot-${i}`,
        }),
      ),
    )
    const after = groupCommitStats(t.db)
    expect(after.batches - before.batches).toBe(1)
    expect(after.acts - before.acts).toBe(50)
    // Each call still gets its own result, in arrival order: available falls by 2 per call.
    expect(results.map((r) => r.available)).toEqual(
      Array.from({ length: 50 }, (_, i) => 130 - 2 * (i + 1)),
    )
    expect(new Set(results.map((r) => r.entryId)).size).toBe(50)
    expect(await writes('customers', id)).toBe(1)
    expect(await writes('grants', first.grantId)).toBe(1)
    expect(await writes('grants', second.grantId)).toBe(1)
    expect(await countEntries(t.db, p, 'consume')).toBe(50)
    expect((await getBalance(t.db, { projectId: p, telegramUserId: 7 })).available).toBe(30)
    expect(await ledgerMismatches(t.db)).toEqual([])
    expect((await verifyLedger(t.db, { projectId: p })).findings).toEqual([])
  })

  it('refusals and replays inside the coalesced batch write nothing of their own', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 8, 10)
    const id = await customerId(p, 8)
    await t.db.execute(sql`delete from row_writes`)
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        consume(t.db, {
          projectId: p,
          telegramUserId: 8,
          amount: 3,
          reason: 'answer',
          actor: 'bot',
          // Calls 6..11 repeat the keys of calls 0..5: replays of their results.
          idempotencyKey: `k-${i % 6}`,
        }),
      ),
    )
    const values = outcomes.map((o) => (o.status === 'fulfilled' ? o.value.available : 'refused'))
    // 10 credits: three calls of 3 pass, the next three are refused; the repeats replay.
    expect(values).toEqual([
      7,
      4,
      1,
      'refused',
      'refused',
      'refused',
      7,
      4,
      1,
      'refused',
      'refused',
      'refused',
    ])
    for (const o of outcomes.slice(3, 6)) {
      expect(o.status === 'rejected' && o.reason).toBeInstanceOf(InsufficientCredits)
    }
    // Refused keys 3..5 were not kept: the repeats of them are fresh calls, refused as well.
    const repeats = outcomes.slice(9)
    expect(repeats.every((o) => o.status === 'rejected')).toBe(true)
    expect(await writes('customers', id)).toBe(1)
    expect(await countEntries(t.db, p, 'consume')).toBe(3)
    const keys = await rows<{ key: string }>(
      t.db,
      sql`select key from idempotency_keys where project_id = ${p} and key like 'k-%' order by key`,
    )
    expect(keys.map((k) => k.key)).toEqual(['k-0', 'k-1', 'k-2'])
    expect(await ledgerMismatches(t.db)).toEqual([])
    expect((await verifyLedger(t.db, { projectId: p })).findings).toEqual([])
  })

  it('many customers at once: each customer row written once', async () => {
    const p = await createProject(t.db)
    for (let u = 1; u <= 20; u++) await fund(t.db, p, 100 + u, 50)
    const ids = await Promise.all(Array.from({ length: 20 }, (_, u) => customerId(p, 101 + u)))
    await t.db.execute(sql`delete from row_writes`)
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        consume(t.db, {
          projectId: p,
          telegramUserId: 101 + (i % 20),
          amount: 1,
          reason: 'answer',
          actor: 'bot',
          idempotencyKey: key(),
        }),
      ),
    )
    for (const id of ids) expect(await writes('customers', id)).toBe(1)
    expect(await countEntries(t.db, p, 'consume')).toBe(60)
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('a lot expired: a refused consume rolls its sweep back, and the calls after it in the batch still find the customer', async () => {
    const p = await createProject(t.db)
    const start = new Date()
    await fund(t.db, p, 9, 5, { expiresAt: new Date(start.getTime() + 3_600_000) })
    await fund(t.db, p, 9, 10)
    const later = new Date(start.getTime() + 7_200_000)
    const call = (amount: number, i: number) =>
      consume(t.db, {
        projectId: p,
        telegramUserId: 9,
        amount,
        reason: 'answer',
        actor: 'bot',
        idempotencyKey: `exp-${i}`,
        now: later,
      })
    const outcomes = await Promise.allSettled([call(50, 0), call(3, 1), call(2, 2)])
    expect(outcomes[0]!.status === 'rejected' && outcomes[0]!.reason).toBeInstanceOf(
      InsufficientCredits,
    )
    expect(outcomes.slice(1).map((o) => o.status === 'fulfilled' && o.value.available)).toEqual([
      7, 5,
    ])
    expect(await countEntries(t.db, p, 'expire')).toBe(1)
    expect(await ledgerMismatches(t.db)).toEqual([])
    expect((await verifyLedger(t.db, { projectId: p })).findings).toEqual([])
  })
})
