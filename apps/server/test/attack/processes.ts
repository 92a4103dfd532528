/**
 * Attack harness: N real e-Stars server processes (`node --import tsx src/main.ts`) on one fresh
 * PostgreSQL database, a loopback Telegram sandbox as their Bot API, a project with the demo
 * catalogue and features, and an API key. A process can be SIGKILLed and restarted. Everything
 * is on loopback; every child is killed on close (and on exit, should the test runner die).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createEStarsClient, type EStarsClient } from '@e-stars/api/client'
import { seedDemoCatalog, seedDemoFeatures } from '@e-stars/billing'
import { type Database, type Db, openDatabase, rows } from '@e-stars/db'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { type SQL, sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/postgres-js'

const serverDir = fileURLToPath(new URL('../..', import.meta.url))

/** The PostgreSQL the attack suites need; they skip (and say so) without it. */
export const testDatabaseUrl = process.env.TEST_DATABASE_URL || null

export function skipNotice(suite: string): string {
  return `${suite} skipped: it needs PostgreSQL (set TEST_DATABASE_URL=postgres://…); CI always sets it`
}

/** A whole number from the environment, or the default. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw.replace(/_/g, ''))
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a whole number`)
  return value
}

// ---------------------------------------------------------------------------------------------
// Small deterministic PRNG (mulberry32): the same seed gives the same plan of operations.

export function prng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    /** An integer in [min, max]. */
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
  }
}
export type Rng = ReturnType<typeof prng>

// ---------------------------------------------------------------------------------------------
// Databases: an empty one per cluster (the first server migrates it), dropped on close.

async function withConnection<T>(url: string, run: (db: ReturnType<typeof drizzle>) => Promise<T>) {
  const db = drizzle({ connection: { url, max: 1, onnotice: () => {} } })
  try {
    return await run(db)
  } finally {
    await db.$client.end({ timeout: 5 })
  }
}

/**
 * Names carry the creating process's pid: a run killed before its cleanup (a CI timeout) leaves a
 * database whose pid is gone, and the next run on this host drops it (never one still in use).
 */
const DATABASE_PREFIX = 'estars_attack_'

async function dropAbandoned(baseUrl: string) {
  const leftovers = (await withConnection(baseUrl, (db) =>
    db.execute(sql`select datname from pg_database where datname like ${`${DATABASE_PREFIX}p%`}`),
  )) as unknown as Array<{ datname: string }>
  for (const { datname } of leftovers) {
    const pid = Number(/^estars_attack_p(\d+)_[0-9a-f]+$/.exec(datname)?.[1])
    if (!pid || pidAlive(pid)) continue
    // Its run is gone; servers it left behind (the runner was SIGKILLed) go with it.
    for (const orphan of serversOn(datname)) process.kill(orphan, 'SIGKILL')
    await withConnection(baseUrl, (db) =>
      db.execute(sql.raw(`drop database if exists ${datname} with (force)`)),
    ).catch(() => {})
  }
}

/** Server processes of this harness (`src/main.ts`) whose DATABASE_URL names `database` (Linux /proc). */
function serversOn(database: string): number[] {
  if (!existsSync('/proc')) return []
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      if (!cmdline.includes('src/main.ts')) continue
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0')
      if (environ.some((v) => v.startsWith('DATABASE_URL=') && v.endsWith(`/${database}`)))
        found.push(Number(entry))
    } catch {
      // gone, or not ours to read
    }
  }
  return found
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function createEmptyDatabase(baseUrl: string) {
  await dropAbandoned(baseUrl).catch(() => {})
  const name = `${DATABASE_PREFIX}p${process.pid}_${randomBytes(4).toString('hex')}`
  await withConnection(baseUrl, (db) => db.execute(sql.raw(`create database ${name}`)))
  const target = new URL(baseUrl)
  target.pathname = `/${name}`
  return {
    name,
    url: target.toString(),
    drop: () =>
      withConnection(baseUrl, (db) =>
        db.execute(sql.raw(`drop database if exists ${name} with (force)`)),
      ),
  }
}

export async function query<T>(db: Db, statement: SQL): Promise<T[]> {
  return rows<T>(db, statement)
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL's own log: errors logged for our database (log_line_prefix carries `user@db`).

export interface PgLog {
  path: string | null
  /** Where the log ends now: pass it to `errorsFor` to read only what came after. */
  position(): number
  /** ERROR/FATAL/PANIC lines (with their DETAIL/STATEMENT lines) logged for `database` since `from`. */
  errorsFor(database: string, from?: number): string[]
}

/** Finds the cluster's log (STRESS_PG_LOG, pg_current_logfile(), or /var/log/postgresql) and its end. */
export async function openPgLog(baseUrl: string): Promise<PgLog> {
  let path: string | null = process.env.STRESS_PG_LOG || null
  if (!path) {
    try {
      const [row] = (await withConnection(baseUrl, (db) =>
        db.execute(
          sql`select pg_current_logfile() as file, current_setting('data_directory') as dir`,
        ),
      )) as unknown as Array<{ file: string | null; dir: string }>
      if (row?.file) path = row.file.startsWith('/') ? row.file : join(row.dir, row.file)
    } catch {
      // not a superuser, or no collector: fall back to the Debian location
    }
  }
  if (!path || !readable(path)) {
    const dir = '/var/log/postgresql'
    path = null
    if (existsSync(dir)) {
      const logs = readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .map((f) => join(dir, f))
        .filter(readable)
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
      path = logs[0] ?? null
    }
  }
  const opened = path ? statSync(path).size : 0
  return {
    path,
    position: () => (path ? statSync(path).size : 0),
    errorsFor(database, start = opened) {
      if (!path) return []
      const end = statSync(path).size
      if (end <= start) return []
      const buffer = Buffer.alloc(Math.min(end - start, 64 * 1024 * 1024))
      const fd = openSync(path, 'r')
      try {
        readSync(fd, buffer, 0, buffer.length, start)
      } finally {
        closeSync(fd)
      }
      const lines = buffer.toString('utf8').split('\n')
      const out: string[] = []
      let inError = false
      for (const line of lines) {
        const ours = line.includes(`@${database} `)
        if (ours && /\b(ERROR|FATAL|PANIC):/.test(line)) {
          inError = true
          out.push(line)
        } else if (ours && inError && /\b(DETAIL|STATEMENT|CONTEXT|HINT):/.test(line)) {
          out.push(line.length > 600 ? `${line.slice(0, 600)}…` : line)
        } else if (!/^\s/.test(line)) inError = false
      }
      return out
    },
  }
}

function readable(path: string): boolean {
  try {
    closeSync(openSync(path, 'r'))
    return true
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------------------------
// Server processes.

const children = new Set<ChildProcess>()
let exitHook = false
/** Clusters not closed yet: a runner told to stop (SIGTERM, SIGINT, its parent gone) closes them. */
const openClusters = new Set<() => Promise<void>>()
let signalHooks = false

function track(child: ChildProcess) {
  children.add(child)
  child.once('exit', () => children.delete(child))
  if (!exitHook) {
    exitHook = true
    process.once('exit', () => {
      for (const c of children) c.kill('SIGKILL')
    })
  }
}

function hookSignals() {
  if (signalHooks) return
  signalHooks = true
  const stop = (why: string) => {
    if (openClusters.size === 0) return
    console.warn(`attack harness: ${why}, stopping the servers and dropping the databases`)
    // The runner told this process to stop: once the servers and databases are gone, stop for
    // good (vitest workers intercept process.exit).
    const end = () => process.kill(process.pid, 'SIGKILL')
    setTimeout(end, 15_000).unref()
    void Promise.allSettled([...openClusters].map((close) => close())).then(end)
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))
  // A vitest fork whose parent died loses its IPC channel.
  process.once('disconnect', () => stop('runner gone'))
}

export interface ServerLogs {
  /** Error-level lines (pino level ≥ 50) and anything not JSON on stderr (stacks). */
  errors: string[]
  /** The last lines of stdout and stderr. */
  tail: string[]
}

export class ServerProcess {
  child: ChildProcess | null = null
  url = ''
  starts = 0
  readonly logs: ServerLogs = { errors: [], tail: [] }
  private exited: Promise<void> = Promise.resolve()

  constructor(
    readonly index: number,
    private readonly env: Record<string, string>,
  ) {}

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null
  }

  /** Starts the process and waits until it says it is up and /healthz answers 200. */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.alive) throw new Error(`server ${this.index} is already running`)
    this.starts++
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: serverDir,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    track(child)
    this.child = child
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
    let stdout = ''
    const up = new Promise<string>((resolve, reject) => {
      const onLine = (stream: 'out' | 'err') => (chunk: string) => {
        if (stream === 'out' && !this.url) {
          stdout += chunk
          const match = /e-Stars is up: (http:\/\/\S+)/.exec(stdout)
          if (match) resolve(match[1]!)
        }
        for (const line of chunk.split('\n')) if (line.trim()) this.keep(stream, line)
      }
      child.stdout!.setEncoding('utf8').on('data', onLine('out'))
      child.stderr!.setEncoding('utf8').on('data', onLine('err'))
      child.once('exit', (code, signal) =>
        reject(
          new Error(
            `server ${this.index} exited (${code ?? signal}) before it was up:\n${this.logs.tail.slice(-30).join('\n')}`,
          ),
        ),
      )
    })
    up.catch(() => {})
    const url = await withTimeout(up, timeoutMs, `server ${this.index} did not come up`)
    const deadline = Date.now() + timeoutMs
    while (true) {
      try {
        const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })
        if (response.ok) break
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error(`server ${this.index}: /healthz never answered`)
      await sleep(100)
    }
    this.url = url
  }

  private keep(stream: 'out' | 'err', line: string) {
    const tail = this.logs.tail
    tail.push(`[${this.index}#${this.starts} ${stream}] ${line}`)
    if (tail.length > 300) tail.splice(0, tail.length - 300)
    let error = stream === 'err'
    if (line.startsWith('{')) {
      try {
        error = Number((JSON.parse(line) as { level?: number }).level ?? 0) >= 50
      } catch {
        // a partial line: keep it if it looks like an error
        error = line.includes('"level":50') || line.includes('"level":60')
      }
    }
    if (error && this.logs.errors.length < 2000)
      this.logs.errors.push(`[process ${this.index}#${this.starts}] ${summarizeLogLine(line)}`)
  }

  /** SIGKILL: no shutdown hook runs, in-flight requests get their connection reset. */
  async kill(): Promise<void> {
    if (!this.alive) return
    this.url = ''
    this.child!.kill('SIGKILL')
    await this.exited
  }

  async stop(): Promise<void> {
    if (!this.alive) return
    this.url = ''
    this.child!.kill('SIGTERM')
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 8000)
    await this.exited
    clearTimeout(timer)
  }
}

/** A pino line in a few words: message, procedure, the error's type, code and last words. */
export function summarizeLogLine(line: string): string {
  try {
    const entry = JSON.parse(line) as {
      msg?: string
      path?: string
      job?: string
      err?: { type?: string; code?: string; message?: string; constraint?: string }
    }
    const err = entry.err
    const message = err?.message ?? ''
    // The driver's message ends with PostgreSQL's own words (after the query and its parameters).
    const tail = message.length > 240 ? `…${message.slice(-240)}` : message
    return [
      entry.msg,
      entry.path ?? entry.job,
      err
        ? `${err.type ?? 'Error'}${err.code ? ` ${err.code}` : ''}${err.constraint ? ` (${err.constraint})` : ''}: ${tail}`
        : '',
    ]
      .filter(Boolean)
      .join(' | ')
      .replace(/\s+/g, ' ')
  } catch {
    return line.length > 600 ? `${line.slice(0, 600)}…` : line
  }
}

/** One answer a server gave with a 5xx status (or a batch item with a 5xx httpStatus). */
export interface ServerError {
  process: number
  status: number
  path: string
  body: string
  at: string
}

/** One project on the cluster: its id, an API key, and a typed client per process. */
export interface Tenant {
  projectId: string
  apiKey: string
  /** A typed client bound to process `i` as it runs now (rebuilt after a restart). */
  client(i: number): EStarsClient
}

export interface Cluster {
  databaseName: string
  databaseUrl: string
  /** The test's own connection to the cluster's database (for checks after the load). */
  db: Db
  servers: ServerProcess[]
  /** Every 5xx answer seen on the wire, with its body. */
  serverErrors: ServerError[]
  pgLog: PgLog
  /** A new project with the demo catalogue and features (pack_s, pack_m…, image, ai.tokens) and a key. */
  tenant(name: string): Promise<Tenant>
  kill(i: number): Promise<void>
  restart(i: number): Promise<void>
  /** Error lines from every process's output (all, or since a `logMark()`). */
  serverLogErrors(since?: LogMark): string[]
  /** Where every log (the servers' and PostgreSQL's) ends now. */
  logMark(): LogMark
  close(): Promise<void>
}

export interface LogMark {
  pg: number
  servers: number[]
}

export interface ClusterOptions {
  processes: number
  /** postgres.js connections per process; default STRESS_POOL_SIZE or 6 (max_connections is often 100). */
  poolSize?: number
  /** Extra environment for the servers. */
  env?: Record<string, string>
}

/** Runs the admin CLI against the cluster's database and returns its JSON output. */
async function cli(env: Record<string, string>, args: string[]): Promise<unknown> {
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', ...args, '--json'],
      { cwd: serverDir, env, timeout: 60_000 },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`cli ${args.join(' ')} failed: ${stderr || error}`))
          : resolve(stdout),
    )
  })
  return JSON.parse(output)
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const baseUrl = testDatabaseUrl
  if (!baseUrl) throw new Error('TEST_DATABASE_URL is not set')
  const pgLog = await openPgLog(baseUrl)
  const database = await createEmptyDatabase(baseUrl)
  let sandbox: Sandbox | null = null
  let handle: Database | null = null
  const servers: ServerProcess[] = []
  const serverErrors: ServerError[] = []
  const close = async () => {
    openClusters.delete(close)
    await Promise.all(servers.map((s) => s.stop().catch(() => s.kill())))
    await handle?.close().catch(() => {})
    await sandbox?.close().catch(() => {})
    await database.drop().catch((error: unknown) => console.warn('could not drop', error))
  }
  openClusters.add(close)
  hookSignals()
  try {
    // Telegram for the servers: a loopback sandbox, so nothing can ever reach the network.
    sandbox = await createSandbox({ bots: [], host: '127.0.0.1' })
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
      DATABASE_URL: database.url,
      // Random per run, never a real one.
      SECRET_KEY: randomBytes(32).toString('hex'),
      TELEGRAM_API_ROOT: sandbox.apiRoot,
      SANDBOX: 'off',
      DEMO_DATA: 'off',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      DB_POOL_SIZE: String(options.poolSize ?? envInt('STRESS_POOL_SIZE', 6)),
      EXPIRY_INTERVAL_SECONDS: '1',
      RECONCILE_INTERVAL_SECONDS: '0',
      CONSOLE_DIR: join(serverDir, 'test/attack/.no-console'),
      MINIAPP_DIR: join(serverDir, 'test/attack/.no-miniapp'),
      ...options.env,
    }
    for (let i = 0; i < options.processes; i++) servers.push(new ServerProcess(i, env))
    // The first one migrates the empty database; then the others (concurrent first start is
    // another suite's business).
    await servers[0]!.start()
    await Promise.all(servers.slice(1).map((s) => s.start()))
    handle = await openDatabase({ url: database.url, poolSize: 4 })
    const db = handle.db
    const cliEnv = { PATH: env.PATH!, HOME: env.HOME!, DATABASE_URL: database.url }
    return {
      databaseName: database.name,
      databaseUrl: database.url,
      db,
      servers,
      serverErrors,
      pgLog,
      async tenant(name) {
        const project = (await cli(cliEnv, ['project', 'create', name])) as { id: string }
        await seedDemoCatalog(db, project.id)
        await seedDemoFeatures(db, project.id)
        const { key } = (await cli(cliEnv, [
          'key',
          'create',
          '--project',
          project.id,
          '--name',
          name,
        ])) as { key: string }
        const clients = new Map<string, EStarsClient>()
        return {
          projectId: project.id,
          apiKey: key,
          client(i) {
            // A dead process: calls fail with a connection error, as they would on the wire.
            const url = servers[i]!.url || 'http://127.0.0.1:9/dead'
            let client = clients.get(url)
            if (!client) {
              client = createEStarsClient({
                url,
                apiKey: key,
                fetch: recordingFetch(i, serverErrors),
              })
              clients.set(url, client)
            }
            return client
          },
        }
      },
      kill: (i) => servers[i]!.kill(),
      restart: async (i) => {
        await servers[i]!.kill()
        await servers[i]!.start()
      },
      serverLogErrors: (since) =>
        servers.flatMap((s, i) => s.logs.errors.slice(since?.servers[i] ?? 0)),
      logMark: () => ({ pg: pgLog.position(), servers: servers.map((s) => s.logs.errors.length) }),
      close,
    }
  } catch (error) {
    const tails = servers.map((s) => s.logs.tail.slice(-20).join('\n')).join('\n')
    await close()
    throw new Error(`${error instanceof Error ? error.message : error}\n${tails}`)
  }
}

/** fetch that records every 5xx answer (whole response or an item of a batch) with its body. */
function recordingFetch(process: number, sink: ServerError[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, {
      ...init,
      signal: init?.signal ?? AbortSignal.timeout(60_000),
    })
    if (response.status >= 500 || response.status === 207) {
      const body = await response.clone().text()
      const path = new URL(typeof input === 'string' || input instanceof URL ? input : input.url)
        .pathname
      let bad = response.status >= 500
      if (!bad) {
        try {
          const items = JSON.parse(body) as Array<{ error?: { data?: { httpStatus?: number } } }>
          bad = items.some((item) => (item.error?.data?.httpStatus ?? 0) >= 500)
        } catch {
          bad = true
        }
      }
      if (bad && sink.length < 5000)
        sink.push({
          process,
          status: response.status,
          path,
          body: body.length > 4000 ? `${body.slice(0, 4000)}…` : body,
          at: new Date().toISOString(),
        })
    }
    return response
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
