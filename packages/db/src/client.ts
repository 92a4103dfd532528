import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import type { SQL } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import * as schema from './schema/index.ts'

export type Schema = typeof schema
/** The database handle every engine function takes: PGlite and postgres.js look the same. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>
/** A transaction handle; helpers called inside a transaction take this, never the outer `Db`. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]
export type Executor = Db | Tx

export interface Database {
  db: Db
  kind: 'pglite' | 'postgres'
  close(): Promise<void>
}

export interface DatabaseOptions {
  /** postgres:// URL. When absent, an embedded PGlite database is used. */
  url?: string | undefined
  /** Where PGlite keeps its files; `memory://` for a throwaway database. */
  dataDir?: string
  /** postgres.js pool size. */
  poolSize?: number
}

export const migrationsFolder = fileURLToPath(new URL('../drizzle', import.meta.url))
const casing = 'snake_case' as const
const MIGRATION_LOCK = 727_211_001

/**
 * How the postgres.js pool rides out a PostgreSQL restart (apps/server/test/outage.test.ts
 * measures it): while the server is down every query fails fast with a connection error, which
 * the API answers as a retryable 503; once it accepts connections again the pool is back within a
 * fraction of a second. Connections that the restart closed are dropped and re-opened on demand
 * (the driver patch in patches/ keeps a slot closed mid-write from staying unusable).
 */
const connectionOptions = {
  onnotice: () => {},
  /** Seconds: a connection attempt that hangs (a partition, a stuck server) fails instead. */
  connect_timeout: 5,
  /** Seconds: idle connections are closed, so the pool holds few sockets that may have died. */
  idle_timeout: 60,
  // max_lifetime keeps the driver's default, 30-60 min with jitter, so replicas do not reconnect
  // in step.
  /**
   * Seconds before a closed connection reconnects, by the number of failed attempts in a row.
   * The driver's default grows to 20 s (3^n / 100), which is what made recovery take over 10 s
   * after a 6 s outage; capped at 0.5 s, the first success comes well within 2 s of restart
   * at the cost of a few refused connection attempts per second while the server is down.
   */
  backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5) * (0.75 + Math.random() / 2),
}

/** Opens the database and applies committed migrations before handing it out. */
export async function openDatabase(options: DatabaseOptions = {}): Promise<Database> {
  if (options.url) {
    await migrateWithLock(options.url)
    const client = postgres(options.url, { ...connectionOptions, max: options.poolSize ?? 10 })
    const db = drizzlePostgres(client, { schema, casing }) as unknown as Db
    return { db, kind: 'postgres', close: () => client.end({ timeout: 5 }) }
  }
  const dataDir = options.dataDir ?? './.data'
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true })
  const client = await PGlite.create(dataDir)
  const db = drizzlePglite(client, { schema, casing })
  await migratePglite(db, { migrationsFolder })
  return { db: db as unknown as Db, kind: 'pglite', close: () => client.close() }
}

/** Several replicas may start at once: one migrates, the others wait on an advisory lock. */
async function migrateWithLock(url: string): Promise<void> {
  const client = postgres(url, { ...connectionOptions, max: 1 })
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK})`
    await migratePostgres(drizzlePostgres(client, { schema, casing }), { migrationsFolder })
    await client`select pg_advisory_unlock(${MIGRATION_LOCK})`
  } finally {
    await client.end({ timeout: 5 })
  }
}

/** Runs a raw statement and returns its rows, whichever driver is underneath. */
export async function rows<T>(executor: Executor, query: SQL): Promise<T[]> {
  const result = (await executor.execute(query)) as unknown
  if (Array.isArray(result)) return result as T[]
  return (result as { rows: T[] }).rows
}
