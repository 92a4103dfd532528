import { createHash, randomBytes } from 'node:crypto'
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import postgres from 'postgres'
import { type Database, type Db, migrationsFolder, openDatabase } from './client.ts'
import * as schema from './schema/index.ts'

/** True when tests run against a real PostgreSQL (`TEST_DATABASE_URL`), as CI does. */
export const onPostgres = Boolean(process.env.TEST_DATABASE_URL)

/**
 * A fresh, migrated database for one test file: a new PostgreSQL database cloned from a migrated
 * template when `TEST_DATABASE_URL` is set, otherwise an in-memory PGlite loaded from a migrated
 * snapshot (see `pgliteSnapshot`). Either way the migrations run once per change, not per file.
 */
export async function createTestDatabase(options: { poolSize?: number } = {}): Promise<Database> {
  const url = process.env.TEST_DATABASE_URL
  if (!url) return openPgliteFromSnapshot(await pgliteSnapshot())
  const template = await ensureTemplate(url)
  const name = `estars_t_${randomBytes(6).toString('hex')}`
  const admin = postgres(url, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database ${name} template ${template}`)
  } finally {
    await admin.end({ timeout: 5 })
  }
  const target = new URL(url)
  target.pathname = `/${name}`
  const database = await openDatabase({ url: target.toString(), poolSize: options.poolSize ?? 5 })
  return {
    ...database,
    async close() {
      await database.close()
      const dropper = postgres(url, { max: 1, onnotice: () => {} })
      try {
        await dropper.unsafe(`drop database if exists ${name} with (force)`)
      } finally {
        await dropper.end({ timeout: 5 })
      }
    },
  }
}

/** The drizzle options of `openDatabase` (client.ts): the same schema and column casing. */
const drizzleOptions = { schema, casing: 'snake_case' as const }

/** sha256 of the committed migrations (SQL and journal): names the template and the snapshot. */
export function migrationsDigest(folder = migrationsFolder): string {
  const digest = createHash('sha256')
  for (const file of readdirSync(folder)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    digest.update(`${file}\0`).update(readFileSync(join(folder, file)))
  }
  digest.update('journal\0').update(readFileSync(join(folder, 'meta', '_journal.json')))
  return digest.digest('hex')
}

/** The installed PGlite's version: a data directory belongs to the PostgreSQL build that wrote it. */
function pgliteVersion(): string {
  let dir = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'))
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
      if (manifest.name === '@electric-sql/pglite') return String(manifest.version)
    } catch {
      // no package.json here: keep walking up
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error('cannot find the version of @electric-sql/pglite')
    dir = parent
  }
}

/** Where migrated PGlite snapshots are kept between runs (`E_STARS_TEST_CACHE_DIR` overrides). */
export function snapshotCacheDir(): string {
  return process.env.E_STARS_TEST_CACHE_DIR ?? join(tmpdir(), 'e-stars-test-pglite')
}

const LOCK_STALE_MS = 120_000
let snapshot: Promise<Uint8Array> | undefined

/**
 * The PGlite data directory after every migration, as a gzipped tarball (`dumpDataDir`), cached
 * in `snapshotCacheDir()` under the migrations' digest and the PGlite version. The first caller
 * on a machine builds it (one at a time, under a lock file, so parallel workers and packages do
 * not all migrate at once); it is written to a temporary name and renamed into place, so a
 * reader sees the whole file or none. Every later test file loads it instead of running initdb
 * and the migrations.
 */
export function pgliteSnapshot(
  cacheDir = snapshotCacheDir(),
  build: () => Promise<Uint8Array> = buildSnapshot,
): Promise<Uint8Array> {
  if (cacheDir !== snapshotCacheDir() || build !== buildSnapshot)
    return loadOrBuildSnapshot(cacheDir, build)
  snapshot ??= loadOrBuildSnapshot(cacheDir, build).catch((error) => {
    snapshot = undefined
    throw error
  })
  return snapshot
}

/** The snapshot's file name: the migrations' digest and the PGlite version. */
export function snapshotFileName(): string {
  return `migrated-${migrationsDigest().slice(0, 16)}-pglite-${pgliteVersion()}.tar.gz`
}

async function loadOrBuildSnapshot(
  cacheDir: string,
  build: () => Promise<Uint8Array>,
): Promise<Uint8Array> {
  const name = snapshotFileName()
  const file = join(cacheDir, name)
  const lock = `${file}.lock`
  mkdirSync(cacheDir, { recursive: true })
  for (;;) {
    const cached = readIfExists(file)
    if (cached) return cached
    if (takeLock(lock)) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  try {
    const cached = readIfExists(file) // built by the previous holder between our read and our lock
    if (cached) return cached
    const built = await build()
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.partial`
    writeFileSync(partial, built)
    renameSync(partial, file)
    pruneOldSnapshots(cacheDir, name)
    return built
  } finally {
    rmSync(lock, { force: true })
  }
}

function readIfExists(file: string): Uint8Array | undefined {
  try {
    return readFileSync(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/** Creates the lock file exclusively; takes over one left by a dead process or a stuck build. */
function takeLock(lock: string): boolean {
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' })
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  let holder = Number.NaN
  let age = 0
  try {
    holder = Number(readFileSync(lock, 'utf8'))
    age = Date.now() - statSync(lock).mtimeMs
  } catch {
    return false // released meanwhile: the next round reads the snapshot or takes the lock
  }
  if (age > LOCK_STALE_MS || (Number.isInteger(holder) && holder > 0 && !alive(holder))) {
    rmSync(lock, { force: true })
  }
  return false
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Snapshots of older migrations or PGlite versions, and partial files, left for over a day. */
function pruneOldSnapshots(cacheDir: string, keep: string): void {
  for (const entry of readdirSync(cacheDir)) {
    if (entry === keep || entry.startsWith(`${keep}.`)) continue
    const path = join(cacheDir, entry)
    try {
      if (Date.now() - statSync(path).mtimeMs > 86_400_000) rmSync(path, { force: true })
    } catch {
      // gone already
    }
  }
}

async function buildSnapshot(): Promise<Uint8Array> {
  const client = await PGlite.create('memory://')
  try {
    await migratePglite(drizzlePglite(client, drizzleOptions), { migrationsFolder })
    await client.exec('checkpoint')
    const tarball = await client.dumpDataDir('gzip')
    return new Uint8Array(await tarball.arrayBuffer())
  } finally {
    await client.close()
  }
}

/** An in-memory PGlite loaded from a snapshot: what `openDatabase({ dataDir: 'memory://' })` gives, migrated. */
export async function openPgliteFromSnapshot(tarball: Uint8Array): Promise<Database> {
  const client = await PGlite.create('memory://', {
    // Node's Buffers are ArrayBuffer-backed; the DOM lib of the packages that typecheck this wants it said.
    loadDataDir: new Blob([tarball as Uint8Array<ArrayBuffer>]),
  })
  const db = drizzlePglite(client, drizzleOptions)
  // Applies nothing when the snapshot is current (one read of the migrations table); a snapshot
  // that somehow lags the migrations is brought up to date rather than trusted.
  await migratePglite(db, { migrationsFolder })
  return { db: db as unknown as Db, kind: 'pglite', close: () => client.close() }
}

let templateName: Promise<string> | undefined

function ensureTemplate(url: string): Promise<string> {
  templateName ??= (async () => {
    const name = `estars_tmpl_${migrationsDigest().slice(0, 12)}`
    const admin = postgres(url, { max: 1, onnotice: () => {} })
    try {
      await admin`select pg_advisory_lock(727211002)`
      const [exists] = await admin`select 1 from pg_database where datname = ${name}`
      if (!exists) {
        // Migrated under another name and renamed when complete: a run killed mid-migration
        // leaves no half-migrated template behind.
        const building = `${name}_building`
        await admin.unsafe(`drop database if exists ${building} with (force)`)
        await admin.unsafe(`create database ${building}`)
        const target = new URL(url)
        target.pathname = `/${building}`
        const migrated = await openDatabase({ url: target.toString(), poolSize: 1 })
        await migrated.close()
        await admin.unsafe(`alter database ${building} rename to ${name}`)
      }
      await admin`select pg_advisory_unlock(727211002)`
    } finally {
      await admin.end({ timeout: 5 })
    }
    return name
  })()
  return templateName
}
