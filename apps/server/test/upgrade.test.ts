/**
 * An upgrade from the previous release with data in it (issue 17 item 7, docs/deploy.md
 * "Upgrades"): a database built by the previous release's migrations and filled by that
 * release's own statements (previous-release.ts) is migrated by this version, as a rolling
 * upgrade does, and then
 * - every row it held is still there, unchanged, and the ledger verifies;
 * - this version serves it: balances, a consume over HTTP with the old API key, a retry of a
 *   consume the old version acknowledged, the old sessions;
 * - the previous version still works against the migrated schema (its replicas keep serving
 *   until they are replaced): its consume, its grants, its reads, interleaved with this
 *   version's writes, and the ledger still verifies;
 * - the migration is additive: no table or column is dropped or retyped, and every new column
 *   is nullable or has a default.
 * On PostgreSQL when TEST_DATABASE_URL is set, else on an embedded PGlite data directory.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEStarsClient } from '@e-stars/api/client'
import {
  authenticateApiKey,
  authenticateCustomerSession,
  authenticateSession,
  consume,
  getBalance,
  verifyLedger,
} from '@e-stars/billing'
import { type Database, type Db, openDatabase, rows } from '@e-stars/db'
import { PGlite } from '@electric-sql/pglite'
import { sql } from 'drizzle-orm'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'
import {
  consumeAtOnce,
  insertApiKey,
  insertCustomer,
  insertCustomerSession,
  insertOperatorSession,
  insertProject,
  openHold,
  previousMigrationsFolder,
  previousReads,
  recordPaidPack,
} from './previous-release.ts'

const silent = { info() {}, warn() {}, error() {} }
const API_KEY = `esk_${'u'.repeat(32)}`
const OPERATOR_TOKEN = 'operator-session-token-from-the-previous-release'
const ALICE = 7_100_001
const BOB = 7_100_002
const CAROL = 7_100_003

interface Column {
  table_name: string
  column_name: string
  data_type: string
  is_nullable: string
  column_default: string | null
  is_identity: string
}

const columnsSql = sql`select table_name, column_name, data_type, is_nullable, column_default, is_identity
  from information_schema.columns where table_schema = 'public' order by table_name, column_name`

/** Where the database lives between the two versions: a PGlite directory or a PostgreSQL URL. */
interface Place {
  /** Opens it with the previous release's migrations applied (and only those). */
  openPrevious(): Promise<{ db: Db; close(): Promise<void> }>
  /** Opens it as this version does at start: its migrations run first. */
  openCurrent(): Promise<Database>
  dispose(): Promise<void>
}

function pglitePlace(): Place {
  const dir = mkdtempSync(join(tmpdir(), 'estars-upgrade-'))
  const dataDir = join(dir, 'data')
  return {
    async openPrevious() {
      const client = await PGlite.create(dataDir)
      const db = drizzlePglite(client)
      await migratePglite(db, { migrationsFolder: previousMigrationsFolder() })
      return { db: db as unknown as Db, close: () => client.close() }
    },
    openCurrent: () => openDatabase({ dataDir }),
    async dispose() {
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function postgresPlace(base: string): Place {
  const name = `estars_up_${Math.random().toString(16).slice(2, 10)}`
  const url = new URL(base)
  url.pathname = `/${name}`
  const admin = () => postgres(base, { max: 1, onnotice: () => {} })
  return {
    async openPrevious() {
      const a = admin()
      await a.unsafe(`create database ${name}`)
      await a.end({ timeout: 5 })
      const client = postgres(url.toString(), { max: 2, onnotice: () => {} })
      const db = drizzlePostgres(client)
      await migratePostgres(db, { migrationsFolder: previousMigrationsFolder() })
      return { db: db as unknown as Db, close: () => client.end({ timeout: 5 }) }
    },
    openCurrent: () => openDatabase({ url: url.toString(), poolSize: 5 }),
    async dispose() {
      const a = admin()
      await a.unsafe(`drop database if exists ${name} with (force)`)
      await a.end({ timeout: 5 })
    },
  }
}

const place = process.env.TEST_DATABASE_URL
  ? postgresPlace(process.env.TEST_DATABASE_URL)
  : pglitePlace()

/** The three first customers' balance rows, read with the previous release's column list. */
async function balances(db: Db): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = []
  for (const user of [ALICE, BOB, CAROL])
    found.push(...(await rows<Record<string, unknown>>(db, previousReads.balance(projectId, user))))
  return found
}

let database: Database
let server: RunningServer
let projectId: string
let lots: { alice: number; bob: number }
/** What the previous version left, read with its own column lists before the upgrade. */
let before: {
  columns: Column[]
  tables: string[]
  ledger: Record<string, unknown>[]
  payments: Record<string, unknown>[]
  lots: Record<string, unknown>[]
  balances: Record<string, unknown>[]
  migrations: number
}
/** A consume the previous version acknowledged, for the retry across the upgrade. */
let acknowledged: { entryId: number; available: number }
const acknowledgedInput = {
  telegramUserId: ALICE,
  amount: 30,
  idempotencyKey: 'answer-alice-2',
  actor: 'api',
  reason: 'AI answer',
}
let aliceSession: string

beforeAll(async () => {
  // 1. The previous release: its schema, then its traffic.
  const previous = await place.openPrevious()
  const old = previous.db
  projectId = await insertProject(old, 'Upgrade bot')
  await insertApiKey(old, projectId, API_KEY)
  const alice = await insertCustomer(old, projectId, ALICE, 'Alice')
  const bob = await insertCustomer(old, projectId, BOB, 'Bob')
  await insertCustomer(old, projectId, CAROL, 'Carol')
  lots = {
    alice: (
      await recordPaidPack(old, {
        projectId,
        customerId: alice,
        telegramUserId: ALICE,
        chargeId: 'charge-alice-1',
        stars: 100,
        credits: 1000,
      })
    ).lotId,
    bob: (
      await recordPaidPack(old, {
        projectId,
        customerId: bob,
        telegramUserId: BOB,
        chargeId: 'charge-bob-1',
        stars: 50,
        credits: 400,
        expiresAt: new Date(Date.now() + 30 * 86_400_000),
      })
    ).lotId,
  }
  await consumeAtOnce(old, { projectId, ...acknowledgedInput, idempotencyKey: 'answer-alice-1' })
  const ack = await consumeAtOnce(old, { projectId, ...acknowledgedInput })
  acknowledged = { entryId: ack!.entryId, available: ack!.available }
  await consumeAtOnce(old, {
    projectId,
    telegramUserId: BOB,
    amount: 25,
    idempotencyKey: 'answer-bob-1',
    actor: 'api',
    reason: 'AI answer',
  })
  await openHold(old, { projectId, customerId: bob, amount: 40, lotId: lots.bob, key: 'hold-bob' })
  aliceSession = `ecs.${projectId}.${'a'.repeat(43)}`
  await insertCustomerSession(old, {
    projectId,
    customerId: alice,
    telegramUserId: ALICE,
    token: aliceSession,
  })
  await insertOperatorSession(old, {
    projectId,
    email: 'olga@example.com',
    token: OPERATOR_TOKEN,
    csrf: 'csrf-from-the-previous-release',
  })
  const columns = await rows<Column>(old, columnsSql)
  before = {
    columns,
    tables: [...new Set(columns.map((c) => c.table_name))],
    ledger: await rows<Record<string, unknown>>(old, previousReads.ledger(projectId)),
    payments: await rows<Record<string, unknown>>(old, previousReads.payments(projectId)),
    lots: await rows<Record<string, unknown>>(old, previousReads.lots(projectId)),
    balances: await balances(old),
    migrations: Number(
      (
        await rows<{ n: string }>(old, sql`select count(*) as n from drizzle.__drizzle_migrations`)
      )[0]!.n,
    ),
  }
  await previous.close()

  // 2. This version starts on it: its migrations run, then it serves.
  database = await place.openCurrent()
  server = await startServer(
    parseEnv({ PORT: '0', LOG_LEVEL: 'silent', RECONCILE_INTERVAL_SECONDS: '0' }),
    silent,
    { database },
  )
})

afterAll(async () => {
  await server?.close()
  await database?.close().catch(() => {})
  await place.dispose()
})

describe('an upgrade from the previous release, with data in it', () => {
  it('starts from the previous schema and applies only the newer migrations', async () => {
    expect(before.migrations).toBeGreaterThan(0)
    const [after] = await rows<{ n: string }>(
      database.db,
      sql`select count(*) as n from drizzle.__drizzle_migrations`,
    )
    expect(Number(after!.n)).toBeGreaterThan(before.migrations)
    // The previous release's data is there to upgrade: not an empty schema.
    expect(before.ledger.length).toBe(6)
    expect(server.demoProjectId).toBeNull()
  })

  it('is additive: no table or column dropped or retyped, every new column nullable or defaulted', async () => {
    const after = await rows<Column>(database.db, columnsSql)
    const now = new Map(after.map((c) => [`${c.table_name}.${c.column_name}`, c]))
    for (const table of before.tables) expect(after.some((c) => c.table_name === table)).toBe(true)
    for (const column of before.columns) {
      const still = now.get(`${column.table_name}.${column.column_name}`)
      expect(still, `${column.table_name}.${column.column_name}`).toBeDefined()
      expect(still!.data_type).toBe(column.data_type)
      // A column the previous version could leave empty must stay optional for its inserts.
      if (column.is_nullable === 'YES') expect(still!.is_nullable).toBe('YES')
    }
    const old = new Set(before.columns.map((c) => `${c.table_name}.${c.column_name}`))
    const added = after.filter((c) => !old.has(`${c.table_name}.${c.column_name}`))
    expect(added.length).toBeGreaterThan(0)
    for (const column of added.filter((c) => before.tables.includes(c.table_name))) {
      const optional =
        column.is_nullable === 'YES' ||
        column.column_default !== null ||
        column.is_identity === 'YES'
      expect(optional, `${column.table_name}.${column.column_name} is required`).toBe(true)
    }
  })

  it('keeps every row the previous version wrote, unchanged', async () => {
    const db = database.db
    expect(await rows(db, previousReads.ledger(projectId))).toEqual(before.ledger)
    expect(await rows(db, previousReads.payments(projectId))).toEqual(before.payments)
    expect(await rows(db, previousReads.lots(projectId))).toEqual(before.lots)
    expect(await balances(db)).toEqual(before.balances)
  })

  it('verifies the old ledger: every hash, link, running sum and cache', async () => {
    const verification = await verifyLedger(database.db, { projectId })
    expect(verification.findings).toEqual([])
    expect(verification.entries).toBe(6)
    expect(verification.unchainedEntries).toBe(0)
  })

  it('serves the old data: balances, the old API key, the old sessions', async () => {
    const alice = await getBalance(database.db, { projectId, telegramUserId: ALICE })
    expect(alice).toMatchObject({ available: 940, held: 0, debt: 0 })
    const bob = await getBalance(database.db, { projectId, telegramUserId: BOB })
    expect(bob).toMatchObject({ available: 335, held: 40, debt: 0 })
    expect((await authenticateApiKey(database.db, API_KEY))?.projectId).toBe(projectId)
    expect(await authenticateCustomerSession(database.db, aliceSession)).toMatchObject({
      projectId,
      telegramUserId: ALICE,
    })
    expect(await authenticateSession(database.db, OPERATOR_TOKEN)).toMatchObject({
      operator: { email: 'olga@example.com' },
      csrfToken: 'csrf-from-the-previous-release',
    })
  })

  it('consumes over HTTP with the old API key, and the ledger still verifies', async () => {
    const client = createEStarsClient({ url: server.url, apiKey: API_KEY })
    expect(await client.credits.balance.query({ telegramUserId: ALICE })).toMatchObject({
      available: 940,
    })
    const consumed = await client.usage.consume.mutate({
      telegramUserId: ALICE,
      amount: 40,
      reason: 'AI answer',
      idempotencyKey: 'answer-alice-3',
    })
    expect(consumed).toMatchObject({ consumed: 40, available: 900 })
    const ledger = await client.ledger.list.query({ telegramUserId: ALICE, limit: 10 })
    expect(ledger.entries.map((e) => e.kind)).toEqual(['consume', 'consume', 'consume', 'grant'])
    expect((await verifyLedger(database.db, { projectId })).findings).toEqual([])
  })

  it('answers a retry of a consume the previous version acknowledged with that answer, once', async () => {
    const { entryId } = await consume(database.db, { projectId, ...acknowledgedInput })
    expect(entryId).toBe(acknowledged.entryId)
    const [count] = await rows<{ n: string }>(
      database.db,
      sql`select count(*) as n from ledger_entries where project_id = ${projectId}
          and idempotency_key = ${acknowledgedInput.idempotencyKey}`,
    )
    expect(Number(count!.n)).toBe(1)
  })

  it("still runs the previous version's statements after the migration, beside this version's", async () => {
    const db = database.db
    // A replica of the previous version, still serving: its consume, a customer, a payment.
    const old = await consumeAtOnce(db, {
      projectId,
      telegramUserId: BOB,
      amount: 15,
      idempotencyKey: 'answer-bob-2',
      actor: 'api',
      reason: 'AI answer',
    })
    expect(old).toMatchObject({ consumed: 15, available: 320, held: 40 })
    const dave = await insertCustomer(db, projectId, 7_100_004, 'Dave')
    await recordPaidPack(db, {
      projectId,
      customerId: dave,
      telegramUserId: 7_100_004,
      chargeId: 'charge-dave-1',
      stars: 20,
      credits: 200,
    })
    expect(
      await consumeAtOnce(db, {
        projectId,
        telegramUserId: 7_100_004,
        amount: 5,
        idempotencyKey: 'answer-dave-1',
        actor: 'api',
        reason: 'AI answer',
      }),
    ).toMatchObject({ available: 195 })
    // This version, on the same customers, in between.
    await consume(db, {
      projectId,
      telegramUserId: BOB,
      amount: 10,
      idempotencyKey: 'answer-bob-3',
      actor: 'api',
      reason: 'AI answer',
    })
    await consume(db, {
      projectId,
      telegramUserId: 7_100_004,
      amount: 5,
      idempotencyKey: 'answer-dave-2',
      actor: 'api',
      reason: 'AI answer',
    })
    expect(
      await consumeAtOnce(db, {
        projectId,
        telegramUserId: BOB,
        amount: 5,
        idempotencyKey: 'answer-bob-4',
        actor: 'api',
        reason: 'AI answer',
      }),
    ).toMatchObject({ available: 305 })
    // The previous version's reads of what this version wrote.
    const [bob] = await rows<{ available: string; held: string }>(
      db,
      previousReads.balance(projectId, BOB),
    )
    expect([Number(bob!.available), Number(bob!.held)]).toEqual([305, 40])
    const payments = await rows<{ telegram_payment_charge_id: string; status: string }>(
      db,
      previousReads.payments(projectId),
    )
    expect(payments.map((p) => p.telegram_payment_charge_id)).toEqual([
      'charge-alice-1',
      'charge-bob-1',
      'charge-dave-1',
    ])
    // Both versions' entries in one chain per customer, every one of them verified.
    const verification = await verifyLedger(db, { projectId })
    expect(verification.findings).toEqual([])
    expect(verification.entries).toBe(before.ledger.length + 1 + 6)
    expect(await getBalance(db, { projectId, telegramUserId: 7_100_004 })).toMatchObject({
      available: 190,
    })
  })
})
