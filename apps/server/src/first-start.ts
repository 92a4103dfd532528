import { randomBytes } from 'node:crypto'
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
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
import { seedDemoData } from './demo-data.ts'
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
  options: { database?: Database | undefined; secrets: Secrets; demoData: boolean },
): Promise<FirstStart> {
  if (options.database)
    return { database: options.database, ...(await seed(options.database, options)) }
  if (!env.DATABASE_URL) {
    assertDataDirUsable(env.DATA_DIR)
    const database = await openDatabase({ dataDir: env.DATA_DIR })
    return { database, ...(await seedOrClose(database, options)) }
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

async function seedOrClose(database: Database, options: { secrets: Secrets; demoData: boolean }) {
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
  options: { secrets: Secrets; demoData: boolean },
): Promise<Omit<FirstStart, 'database'>> {
  const created = await retryOnConflict(() => seedDemoProject(database.db))
  if (!created) return { demoProjectId: null, demoOperator: null }
  if (options.demoData)
    await seedDemoData(database.db, { projectId: created.projectId, secrets: options.secrets })
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

/**
 * The embedded database's directory exists (or is created) and is writable. Created one level
 * at a time: Node's recursive mkdir loops forever under /proc.
 */
export function assertDataDirUsable(
  dataDir: string,
  options: { sharedWithServer?: boolean } = {},
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
      mkdirSync(dir)
    } catch (error) {
      throw problem(`cannot be created (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  try {
    accessSync(target, constants.R_OK | constants.W_OK | constants.X_OK)
  } catch (error) {
    throw problem(`is not writable (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  const owner = options.sharedWithServer ? null : readControlFile(target)
  if (owner && owner.pid !== process.pid)
    throw problem(
      `is in use by another e-Stars server (pid ${owner.pid}); the embedded database is one process — use DATABASE_URL for several`,
    )
}
