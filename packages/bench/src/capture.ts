import { consume, grantCredits } from '@e-stars/billing'
import { type Db, rows } from '@e-stars/db'
import * as schema from '@e-stars/db/schema'
import { sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'

const TELEGRAM_USER = 424_242
const AMOUNT = 7_777
const KEY = 'capture-key'

/**
 * Runs one real `consume()` with postgres.js's debug hook on and turns the statements it sent into
 * a pgbench script: parameters become pgbench variables (customer, unique key) or their values.
 * So the baseline is always exactly what the engine issues, never a hand-copied version of it.
 * The engine names the customer and its grant by their row ids: the seed makes both equal to
 * the Telegram user id (checked there), so those become `:cid` too, and the captured customer is
 * the next row (`customers + 1`).
 */
export async function pgbenchScriptFromEngine(url: string, projectId: string, customers: number) {
  const sent: Array<{ query: string; params: unknown[] }> = []
  const client = postgres(url, {
    max: 1,
    onnotice: () => {},
    debug: (_connection, query, params) => sent.push({ query, params: params as unknown[] }),
  })
  const db = drizzle(client, { schema, casing: 'snake_case' }) as unknown as Db
  await grantCredits(db, {
    projectId,
    telegramUserId: TELEGRAM_USER,
    amount: AMOUNT * 2,
    reason: 'capture',
    source: 'promo',
    actor: 'bench',
    idempotencyKey: 'capture-grant',
  })
  sent.length = 0
  await consume(db, {
    projectId,
    telegramUserId: TELEGRAM_USER,
    amount: AMOUNT,
    reason: 'bench',
    actor: 'bench',
    idempotencyKey: KEY,
  })
  await rows(db, sql`select 1`)
  await client.end()
  const statements = sent.filter((s) => !s.query.includes('pg_catalog') && s.query !== 'select 1')
  const rowId = String(customers + 1)
  const lines = statements.map(({ query, params }) =>
    query
      .replace(/--[^\n]*/g, '')
      .replace(/\s+/g, ' ')
      .replace(/\$(\d+)/g, (_m, index: string) => variable(params[Number(index) - 1], rowId)),
  )
  return (hot: boolean) =>
    [
      `\\set cid ${hot ? '1' : `random(1, ${customers})`}`,
      '\\set k random(1, 9000000000000000)',
      ...lines.map((line) => `${line};`),
    ].join('\n')
}

function variable(value: unknown, rowId: string): string {
  const text = value === null || value === undefined ? null : String(value)
  if (text === null) return 'null'
  if (text === String(TELEGRAM_USER)) return ':cid'
  if (text === rowId) return ':cid'
  if (text === String(AMOUNT)) return '1'
  if (text === String(-AMOUNT)) return '-1'
  if (text === KEY) return "('pgb-' || :client_id::text || '-' || :k::text)"
  if (/^\d{4}-\d\d-\d\dT/.test(text)) return 'now()'
  return `'${text.replace(/'/g, "''")}'`
}
