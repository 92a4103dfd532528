import { randomBytes } from 'node:crypto'
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  statSync,
} from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import {
  createOperator,
  createProject,
  listProjects,
  type Secrets,
  seedDemoCatalog,
  seedDemoFeatures,
  seedMiniAppFeatures,
} from '@e-stars/billing'
import { causeChain, type Database, type Db, openDatabase, operators } from '@e-stars/db'
import { eq, sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/postgres-js'
import { readControlFile } from './control-file.ts'
import { type DemoTelegram, sandboxTelegram, seedDemoData } from './demo-data.ts'
import { ConfigError, type Env } from './env.ts'

export const DEMO_PROJECT_NAME = 'Demo bot'
export const DEMO_OPERATOR_EMAIL = 'demo@e-stars.local'

/** Migrations take 727_211_001 (packages/db), the test template 727_211_002; this one wraps both steps. */
const FIRST_START_LOCK = 727_211_003

export interface FirstStart {
  database: Database
  /** Set when this process created the demo project (a first start on an empty database). */
  demoProjectId: string | null
  /** The console owner created with the demo project; the password is shown once. */
  demoOperator: { email: string; password: string } | null
}

/** A little demo history only for the embedded database the server opens itself, unless asked. */
export function demoDataWanted(env: Env, databaseGiven: boolean): boolean {
  return env.DEMO_DATA === 'on' || (env.DEMO_DATA === 'auto' && !databaseGiven && !env.DATABASE_URL)
}

/**
 * Opens the database (migrating it) and seeds a first start, as one step: with PostgreSQL, under
 * a session-level advisory lock on a connection of its own, so that of several replicas started
 * at once exactly one seeds and the others find its seed. The seed itself is one transaction
 * that creates nothing when a project exists, so it is safe without the lock too.
 */
export async function openFirstStart(
  env: Env,
  given: { database?: Database | undefined; secrets: Secrets; demoData: boolean },
): Promise<FirstStart> {
  const options = { ...given, telegram: sandboxTelegram(env) }
  if (options.database)
    return { database: options.database, ...(await seed(options.database, options)) }
  if (!env.DATABASE_URL) {
    assertDataDirUsable(env.DATA_DIR)
    const database = await openDatabase({ dataDir: env.DATA_DIR })
    const seeded = await seedOrClose(database, options)
    // PGlite sets each new file's mode itself (0666, past the umask): take group and others off.
    tightenDataDir(env.DATA_DIR)
    return { database, ...seeded }
  }
  const url = env.DATABASE_URL
  return withFirstStartLock(url, env.DATABASE_CONNECT_TIMEOUT_SECONDS, async () => {
    const database = await openDatabase({ url, poolSize: env.DB_POOL_SIZE }).catch(
      (error: unknown) => {
        throw databaseUrlProblem(error, url) ?? error
      },
    )
    return { database, ...(await seedOrClose(database, options)) }
  })
}

/** How the seed runs: the demo history's charges are made by the sandbox the server runs against. */
interface SeedOptions {
  secrets: Secrets
  demoData: boolean
  telegram: DemoTelegram | undefined
}

async function seedOrClose(database: Database, options: SeedOptions) {
  try {
    return await seed(database, options)
  } catch (error) {
    await database.close().catch(() => {})
    throw error
  }
}

async function withFirstStartLock<T>(
  url: string,
  connectTimeoutSeconds: number,
  run: () => Promise<T>,
): Promise<T> {
  // drizzle's own postgres.js client: one connection, held for the whole step.
  const lock = drizzle({
    connection: { url, max: 1, connect_timeout: connectTimeoutSeconds, onnotice: () => {} },
  })
  try {
    await lock.execute(sql`select pg_advisory_lock(${FIRST_START_LOCK})`).catch((error) => {
      throw databaseUrlProblem(error, url) ?? error
    })
    try {
      return await run()
    } finally {
      await lock.execute(sql`select pg_advisory_unlock(${FIRST_START_LOCK})`).catch(() => {})
    }
  } finally {
    await lock.$client.end({ timeout: 5 })
  }
}

async function seed(
  database: Database,
  options: SeedOptions,
): Promise<Omit<FirstStart, 'database'>> {
  const created = await retryOnConflict(() => seedDemoProject(database.db))
  if (!created) return { demoProjectId: null, demoOperator: null }
  if (options.demoData)
    await seedDemoData(database.db, {
      projectId: created.projectId,
      secrets: options.secrets,
      telegram: options.telegram,
    })
  return { demoProjectId: created.projectId, demoOperator: created.operator }
}

/**
 * On a database without any project: the demo project with its catalogue and features, and its
 * owner (an existing operator with the demo email is kept, never replaced). One transaction: a
 * crash leaves nothing half-seeded, and a concurrent seeder's commit makes this one roll back.
 */
async function seedDemoProject(db: Db) {
  return db.transaction(async (tx) => {
    if ((await listProjects(tx)).length > 0) return null
    const project = await createProject(tx, { name: DEMO_PROJECT_NAME })
    await seedDemoCatalog(tx, project.id)
    await seedMiniAppFeatures(tx, project.id)
    await seedDemoFeatures(tx, project.id)
    const [existing] = await tx
      .select({ id: operators.id })
      .from(operators)
      .where(eq(operators.email, DEMO_OPERATOR_EMAIL))
    if (existing) return { projectId: project.id, operator: null }
    const password = randomBytes(9).toString('base64url')
    await createOperator(tx, {
      email: DEMO_OPERATOR_EMAIL,
      name: 'Demo owner',
      password,
      projectId: project.id,
    })
    return { projectId: project.id, operator: { email: DEMO_OPERATOR_EMAIL, password } }
  })
}

/** Without the lock two seeders can race: the loser's unique violation rolls it back; look again. */
async function retryOnConflict<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run()
    } catch (error) {
      const code = sqlState(error)
      if (attempt >= 3 || !(code === '23505' || code === '40001' || code === '40P01')) throw error
    }
  }
}

/** The code (SQLSTATE or socket error) of a database error, looking through drizzle's wrapper. */
function sqlState(error: unknown): string | undefined {
  for (const link of causeChain(error)) {
    const code = (link as { code?: unknown } | null)?.code
    if (typeof code === 'string') return code
  }
  return undefined
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'CONNECT_TIMEOUT',
  '57P03',
])

/** A connection failure as one line naming DATABASE_URL (host, port and database; never the password). */
export function databaseUrlProblem(error: unknown, url: string): ConfigError | null {
  const code = sqlState(error)
  if (!code) return null
  const u = new URL(url)
  const where = `${u.hostname}:${u.port || '5432'}`
  const name = decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username)
  const user = decodeURIComponent(u.username) || 'the default user'
  if (UNREACHABLE.has(code))
    return new ConfigError(`DATABASE_URL: cannot reach PostgreSQL at ${where} (${code})`)
  if (code === '3D000')
    return new ConfigError(
      `DATABASE_URL: the database "${name}" does not exist on ${where}; create it (createdb ${name}) or fix the URL`,
    )
  if (code === '28P01' || code === '28000')
    return new ConfigError(
      `DATABASE_URL: PostgreSQL at ${where} refused the login of ${user} (${code})`,
    )
  if (code === '53300')
    return new ConfigError(`DATABASE_URL: PostgreSQL at ${where} has no free connection (${code})`)
  if (code === '42501')
    return new ConfigError(
      `DATABASE_URL: ${user} may not create the tables in "${name}" on ${where} (${code})`,
    )
  return null
}

/** Permission bits for group and others: none of them may touch the embedded database. */
const GROUP_AND_OTHERS = 0o077
const WRITABLE_BY_GROUP_OR_OTHERS = 0o022

/**
 * Files this process creates get no group or other bits (PGlite writes its files with 0666 and
 * its directories with 0777, trusting the umask). Called at start-up by the server and the CLI.
 */
export function restrictNewFiles(): void {
  process.umask(GROUP_AND_OTHERS)
}

/**
 * The embedded database's directory exists (or is created, 0700) and is writable by this user
 * alone: another local user who could write the files could edit operators, sessions and the
 * ledger directly. Created one level at a time: Node's recursive mkdir loops forever under /proc.
 * Files left readable by group or others (by an older version) are tightened.
 */
export function assertDataDirUsable(
  dataDir: string,
  options: { sharedWithServer?: boolean; uid?: number } = {},
): void {
  if (dataDir.startsWith('memory://')) return
  const target = resolve(dataDir)
  const problem = (what: string) =>
    new ConfigError(`DATA_DIR: ${dataDir} ${what}; set DATA_DIR to a writable directory`)
  const missing: string[] = []
  let existing = target
  while (!existsSync(existing)) {
    missing.unshift(existing)
    const parent = dirname(existing)
    if (parent === existing) break
    existing = parent
  }
  if (!statSync(existing).isDirectory())
    throw problem(
      existing === target ? 'is a file, not a directory' : `is under ${existing}, a file`,
    )
  for (const dir of missing) {
    try {
      mkdirSync(dir, { mode: 0o700 })
    } catch (error) {
      throw problem(`cannot be created (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  try {
    accessSync(target, constants.R_OK | constants.W_OK | constants.X_OK)
  } catch (error) {
    throw problem(`is not writable (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  assertPrivate(dataDir, target, options.uid ?? process.getuid?.())
  const owner = options.sharedWithServer ? null : readControlFile(target)
  if (owner && owner.pid !== process.pid)
    throw problem(
      `is in use by another e-Stars server (pid ${owner.pid}); the embedded database is one process — use DATABASE_URL for several`,
    )
}

/** Refuses a directory another user owns or may write; tightens what group or others may read. */
function assertPrivate(dataDir: string, target: string, uid: number | undefined) {
  const stat = statSync(target)
  if (uid !== undefined && stat.uid !== uid)
    throw new ConfigError(
      `DATA_DIR: ${dataDir} is owned by another user (uid ${stat.uid}); run the server as that user or give it a directory of its own`,
    )
  if (stat.mode & WRITABLE_BY_GROUP_OR_OTHERS)
    throw new ConfigError(
      `DATA_DIR: ${dataDir} is writable by other users (mode ${(stat.mode & 0o777).toString(8)}); run: chmod 700 ${dataDir}`,
    )
  // The directory itself is what keeps other users out; what an older version left open closes too.
  tightenModes(target)
}

/** Takes group and other bits off everything in the embedded database's directory. */
export function tightenDataDir(dataDir: string): void {
  if (!dataDir.startsWith('memory://')) tightenModes(resolve(dataDir))
}

/** Clears group and other bits under the directory (symlinks are left alone, never followed). */
function tightenModes(path: string) {
  const stat = lstatSync(path)
  if (stat.isSymbolicLink()) return
  if (stat.mode & GROUP_AND_OTHERS) {
    try {
      chmodSync(path, stat.mode & 0o7700)
    } catch (error) {
      throw new ConfigError(
        `DATA_DIR: cannot make ${path} private (${(error as NodeJS.ErrnoException).code ?? 'error'}); run: chmod -R go-rwx ${dirname(path)}`,
      )
    }
  }
  if (!stat.isDirectory()) return
  for (const name of readdirSync(path)) tightenModes(join(path, name))
}
