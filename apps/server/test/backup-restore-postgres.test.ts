/**
 * The PostgreSQL backup procedure of docs/deploy.md ("Backups and restore (PostgreSQL)"), run as
 * written: `pg_dump --format=custom --no-owner` of a database with payments, a ledger and
 * sessions, taken while the server keeps consuming, then `pg_restore --no-owner --exit-on-error`
 * into a new, empty database. The dump taken under load is one snapshot (the restored ledger
 * verifies: every balance is the sum of its entries); one taken once the load stops restores to
 * identical rows in every table, the same balances and reconciliation; and a server started on
 * the restored database serves the same API key. Needs TEST_DATABASE_URL (CI sets it) and the
 * PostgreSQL client tools.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEStarsClient } from '@e-stars/api/client'
import {
  createApiKey,
  createOperator,
  createProject,
  createSecrets,
  getBalance,
  login,
  seedDemoCatalog,
  setBotToken,
  verifyLedger,
} from '@e-stars/billing'
import { type Database, openDatabase, rows } from '@e-stars/db'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const baseUrl = process.env.TEST_DATABASE_URL
const haveTools = (() => {
  try {
    execFileSync('pg_dump', ['--version'], { stdio: 'ignore' })
    execFileSync('pg_restore', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

const silent = { info() {}, warn() {}, error() {} }
const BUYERS = [2_000_901, 2_000_902, 2_000_903]
const SECRET_KEY = randomBytes(32).toString('base64')
const suffix = randomBytes(4).toString('hex')
const names = {
  source: `estars_bk_src_${suffix}`,
  underLoad: `estars_bk_load_${suffix}`,
  quiet: `estars_bk_quiet_${suffix}`,
}

function urlOf(name: string): string {
  const url = new URL(baseUrl!)
  url.pathname = `/${name}`
  return url.toString()
}

async function admin(statement: string) {
  const client = postgres(baseUrl!, { max: 1, onnotice: () => {} })
  try {
    await client.unsafe(statement)
  } finally {
    await client.end({ timeout: 5 })
  }
}

/** Every table's rows in a stable order: two databases with the same data are the same. */
async function contents(database: Database) {
  const tables = await rows<{ table_name: string }>(
    database.db,
    sql`select table_name from information_schema.tables
        where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`,
  )
  const all: Record<string, unknown[]> = {}
  for (const { table_name } of tables)
    all[table_name] = await rows(
      database.db,
      sql.raw(`select * from "${table_name}" order by to_jsonb("${table_name}")::text`),
    )
  return all
}

/** docs/deploy.md's commands, as written there. */
function dump(name: string, file: string) {
  execFileSync('pg_dump', ['--format=custom', '--no-owner', `--file=${file}`, urlOf(name)])
}
function restore(file: string, name: string) {
  execFileSync('pg_restore', ['--no-owner', '--exit-on-error', `--dbname=${urlOf(name)}`, file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
}

describe.skipIf(!baseUrl || !haveTools)('pg_dump / pg_restore (PostgreSQL)', () => {
  let dir: string
  let sandbox: Sandbox
  let server: RunningServer
  let projectId: string
  let apiKey: string
  let consumed = 0

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'estars-pgdump-'))
    await admin(`create database ${names.source}`)
    sandbox = await createSandbox({
      users: BUYERS.map((id, i) => ({ id, firstName: `Buyer ${i}` })),
    })
    server = await startServer(
      parseEnv({
        PORT: '0',
        DATABASE_URL: urlOf(names.source),
        SECRET_KEY,
        TELEGRAM_API_ROOT: sandbox.apiRoot,
        RECONCILE_INTERVAL_SECONDS: '0',
        DEMO_DATA: 'off',
        SANDBOX: 'off',
        LOG_LEVEL: 'silent',
      }),
      silent,
    )
    const db = server.database.db
    projectId = (await createProject(db, { name: 'Backed up' })).id
    await seedDemoCatalog(db, projectId)
    await setBotToken(db, {
      projectId,
      botToken: sandbox.bot().token,
      secrets: createSecrets(SECRET_KEY),
    })
    apiKey = (await createApiKey(db, { projectId, name: 'bot' })).key
    const client = createEStarsClient({ url: server.url, apiKey })
    for (const [i, buyer] of BUYERS.entries()) {
      const invoice = await client.invoices.create.mutate({
        telegramUserId: buyer,
        productKey: 'pack_s',
      })
      await client.payments.record.mutate({
        from: { id: buyer, is_bot: false, first_name: `Buyer ${i}` },
        successfulPayment: {
          currency: 'XTR',
          total_amount: invoice.priceStars,
          invoice_payload: invoice.payload,
          telegram_payment_charge_id: `pg-backup-charge-${i}`,
        },
      })
    }
    await createOperator(db, { email: 'ops@pgdump.test', password: 'password123', projectId })
    await login(db, { email: 'ops@pgdump.test', password: 'password123' })
  }, 300_000)

  afterAll(async () => {
    await server?.close()
    await sandbox?.close()
    for (const name of Object.values(names))
      await admin(`drop database if exists ${name} with (force)`).catch(() => {})
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('a dump taken while the server consumes is one consistent snapshot', async () => {
    const client = createEStarsClient({ url: server.url, apiKey })
    let loading = true
    const loops = BUYERS.map(async (buyer) => {
      while (loading) {
        await client.usage.consume.mutate({
          telegramUserId: buyer,
          amount: 1,
          reason: 'an answer',
          idempotencyKey: randomUUID(),
        })
        consumed++
      }
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    const before = consumed
    const file = join(dir, 'under-load.dump')
    dump(names.source, file)
    await new Promise((resolve) => setTimeout(resolve, 200))
    loading = false
    await Promise.all(loops)
    expect(consumed).toBeGreaterThan(before)

    await admin(`create database ${names.underLoad}`)
    restore(file, names.underLoad)
    const restored = await openDatabase({ url: urlOf(names.underLoad), poolSize: 2 })
    try {
      const verification = await verifyLedger(restored.db)
      expect(verification.findings).toEqual([])
      const [entries] = await rows<{ consumes: number }>(
        restored.db,
        sql`select count(*)::int as consumes from ledger_entries where kind = 'consume'`,
      )
      // Some of the consumes, not all: the dump ran in the middle of them.
      expect(entries!.consumes).toBeGreaterThan(0)
      expect(entries!.consumes).toBeLessThan(consumed)
    } finally {
      await restored.close()
    }
  })

  it('a restore into a new database gives identical rows, balances, ledger and reconciliation', async () => {
    const file = join(dir, 'quiet.dump')
    dump(names.source, file)
    await admin(`create database ${names.quiet}`)
    restore(file, names.quiet)
    const restored = await openDatabase({ url: urlOf(names.quiet), poolSize: 2 })
    try {
      expect(await contents(restored)).toEqual(await contents(server.database))
      for (const buyer of BUYERS)
        expect(await getBalance(restored.db, { projectId, telegramUserId: buyer })).toEqual(
          await getBalance(server.database.db, { projectId, telegramUserId: buyer }),
        )
      const verification = await verifyLedger(restored.db)
      expect(verification.findings).toEqual([])
      expect(verification.entries).toBe(BUYERS.length + consumed)
    } finally {
      await restored.close()
    }
  })

  it('the documented pg_restore refuses a database that is not empty', async () => {
    // The restored one has every table already: --exit-on-error stops at the first conflict.
    expect(() => restore(join(dir, 'quiet.dump'), names.quiet)).toThrow()
  })

  it('a server on the restored database serves the same key and balances', async () => {
    const restoredServer = await startServer(
      parseEnv({
        PORT: '0',
        DATABASE_URL: urlOf(names.quiet),
        SECRET_KEY,
        TELEGRAM_API_ROOT: sandbox.apiRoot,
        RECONCILE_INTERVAL_SECONDS: '0',
        DEMO_DATA: 'off',
        SANDBOX: 'off',
        LOG_LEVEL: 'silent',
      }),
      silent,
    )
    try {
      const client = createEStarsClient({ url: restoredServer.url, apiKey })
      const before = await client.credits.balance.query({ telegramUserId: BUYERS[0]! })
      const after = await client.usage.consume.mutate({
        telegramUserId: BUYERS[0]!,
        amount: 2,
        reason: 'after the restore',
        idempotencyKey: randomUUID(),
      })
      expect(after.available).toBe(before.available - 2)
    } finally {
      await restoredServer.close()
    }
  })
})
