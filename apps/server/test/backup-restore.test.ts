import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEStarsClient } from '@e-stars/api/client'
import {
  createApiKey,
  createOperator,
  getBalance,
  login,
  seedDemoCatalog,
  verifyLedger,
} from '@e-stars/billing'
import { type Database, openDatabase, restorePglite, rows } from '@e-stars/db'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { startServer } from '../src/server.ts'
import { runCli } from './spawn-server.ts'

const silent = { info() {}, warn() {}, error() {} }
const BUYER = 2_000_888

let root: string
let source: string
let sandbox: Sandbox
let projectId: string

/** Every table's rows in a stable order: two databases with the same dump are the same. */
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

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'estars-backup-'))
  source = join(root, 'data')
  sandbox = await createSandbox({ users: [{ id: BUYER, firstName: 'Bea' }] })
  // A real embedded database on disk, with a payment, a ledger and sessions in it.
  const server = await startServer(
    parseEnv({
      PORT: '0',
      // No SECRET_KEY: the embedded database's own is generated into DATA_DIR/secret.key.
      DATA_DIR: source,
      TELEGRAM_API_ROOT: sandbox.apiRoot,
      RECONCILE_INTERVAL_SECONDS: '0',
      DEMO_DATA: 'off',
    }),
    silent,
  )
  try {
    projectId = server.demoProjectId!
    const db = server.database.db
    await seedDemoCatalog(db, projectId)
    const { key } = await createApiKey(db, { projectId, name: 'bot' })
    const client = createEStarsClient({ url: server.url, apiKey: key })
    const invoice = await client.invoices.create.mutate({
      telegramUserId: BUYER,
      productKey: 'pack_s',
    })
    await client.payments.record.mutate({
      from: { id: BUYER, is_bot: false, first_name: 'Bea' },
      successfulPayment: {
        currency: 'XTR',
        total_amount: invoice.priceStars,
        invoice_payload: invoice.payload,
        telegram_payment_charge_id: 'backup-charge-1',
      },
    })
    await client.usage.consume.mutate({
      telegramUserId: BUYER,
      amount: 7,
      reason: 'one answer',
      idempotencyKey: randomUUID(),
    })
    await createOperator(db, { email: 'ops@backup.test', password: 'password123', projectId })
    await login(db, { email: 'ops@backup.test', password: 'password123' })
  } finally {
    await server.close()
  }
}, 300_000)

afterAll(async () => {
  await sandbox?.close()
  rmSync(root, { recursive: true, force: true })
})

describe('pnpm cli backup / restore (embedded database)', () => {
  it('round trip: identical balances, ledger, sessions and every other table', async () => {
    const file = join(root, 'estars.backup')
    const backedUp = await runCli(['backup', file], { DATA_DIR: source })
    expect(backedUp.stderr).toBe('')
    expect(backedUp.code).toBe(0)
    expect(backedUp.stdout).toMatch(/^Backed up .* to .*estars\.backup/)
    const target = join(root, 'restored')
    const restored = await runCli(['restore', file], { DATA_DIR: target })
    expect(restored.stderr).toBe('')
    expect(restored.code).toBe(0)
    // The key travels with the embedded database: the restored tokens still decrypt.
    expect(readFileSync(join(target, 'secret.key'), 'utf8')).toBe(
      readFileSync(join(source, 'secret.key'), 'utf8'),
    )

    const before = await openDatabase({ dataDir: source })
    const after = await openDatabase({ dataDir: target })
    try {
      const was = await contents(before)
      expect(was.ledger_entries?.length).toBeGreaterThan(1)
      expect(was.payments).toHaveLength(1)
      expect(was.operator_sessions).toHaveLength(1)
      expect(await contents(after)).toEqual(was)
      const balance = await getBalance(before.db, { projectId, telegramUserId: BUYER })
      expect(balance.available).toBeGreaterThan(0)
      expect(await getBalance(after.db, { projectId, telegramUserId: BUYER })).toEqual(balance)
      expect((await verifyLedger(after.db)).findings).toEqual([])
    } finally {
      await before.close()
      await after.close()
    }

    // Into a directory that is not empty: refused, unless --replace; the old one is kept.
    const refused = await runCli(['restore', file], { DATA_DIR: target })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/restore: .*restored is not empty: .*--replace/)
    const replaced = await runCli(['restore', file, '--replace'], { DATA_DIR: target })
    expect(replaced.code).toBe(0)
    expect(replaced.stdout).toMatch(/previous directory is kept as .*restored\.before-restore-/)
  }, 400_000)

  it('a truncated or altered backup fails clearly and leaves the target untouched', async () => {
    const file = join(root, 'again.backup')
    const { backupPglite } = await import('@e-stars/db')
    await backupPglite(source, file)
    const whole = readFileSync(file)
    const target = join(root, 'untouched')
    const marker = join(target, 'PG_VERSION')
    // An existing database, restored over with --replace: a bad file must not move it.
    await restorePglite(file, target)
    const listing = readdirSync(target).sort()

    const truncated = join(root, 'truncated.backup')
    writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)))
    await expect(restorePglite(truncated, target, { replace: true })).rejects.toThrow(
      /truncated or corrupt/,
    )
    const altered = join(root, 'altered.backup')
    const flipped = Buffer.from(whole)
    flipped[flipped.length - 10] = (flipped[flipped.length - 10]! + 1) % 256
    writeFileSync(altered, flipped)
    await expect(restorePglite(altered, target, { replace: true })).rejects.toThrow(
      /checksum does not match/,
    )
    const notOurs = join(root, 'not-ours.backup')
    writeFileSync(notOurs, 'hello\n')
    await expect(restorePglite(notOurs, join(root, 'fresh'))).rejects.toThrow(
      /not an e-Stars backup/,
    )
    expect(existsSync(join(root, 'fresh'))).toBe(false)
    expect(readdirSync(target).sort()).toEqual(listing)
    expect(existsSync(marker)).toBe(true)
    expect(readdirSync(root).filter((name) => name.includes('.restoring-'))).toEqual([])

    const viaCli = await runCli(['restore', truncated, '--replace'], { DATA_DIR: target })
    expect(viaCli.code).toBe(1)
    expect(viaCli.stderr).toMatch(/^restore: .*truncated\.backup is truncated or corrupt/)
    expect(readdirSync(target).sort()).toEqual(listing)
  }, 400_000)
})
