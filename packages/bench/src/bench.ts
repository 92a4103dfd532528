import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createApiKey, createProject } from '@e-stars/billing'
import { openDatabase } from '@e-stars/db'
import postgres from 'postgres'
import { pgbenchScriptFromEngine } from './capture.ts'
import { type Summary, summarize } from './stats.ts'

/**
 * `pnpm bench`: in one run on one machine, (a) pgbench issuing exactly the statements the engine
 * issues for one consume, against (b) `usage.consume` through the typed client over HTTP from a
 * separate process. Same database, same data, same concurrency. Prints ops/s, p50/p99, (b)/(a).
 */
const adminUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres'
const seconds = Number(process.env.BENCH_SECONDS ?? 8)
const levels = (process.env.BENCH_CONCURRENCY ?? '8,32,64').split(',').map(Number)
const CUSTOMERS = 10_000
const here = fileURLToPath(new URL('.', import.meta.url))
const tsx = join(here, '../node_modules/.bin/tsx')
const serverMain = join(here, '../../../apps/server/src/main.ts')

function requirePgbench() {
  try {
    execFileSync('pgbench', ['--version'], { stdio: 'ignore' })
  } catch {
    console.error(
      'pgbench is not installed (apt-get install -y postgresql-client); it is the baseline.',
    )
    process.exit(1)
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function createBenchDatabase() {
  const name = `estars_bench_${Date.now()}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return { name, url: url.toString() }
}

async function seed(url: string) {
  const database = await openDatabase({ url, poolSize: 2 })
  const project = await createProject(database.db, { name: 'bench' })
  const key = await createApiKey(database.db, { projectId: project.id, name: 'bench' })
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  const big = 1_000_000_000_000
  await sql`insert into customers (project_id, telegram_user_id, available)
            select ${project.id}, g, ${big} from generate_series(1, ${CUSTOMERS}) g`
  await sql`insert into grants (project_id, customer_id, amount, remaining, source, reason)
            select project_id, id, ${big}, ${big}, 'promo', 'bench' from customers where project_id = ${project.id}`
  await sql`insert into ledger_entries (project_id, customer_id, kind, amount, available_after, held_after, debt_after, grant_id, reason, actor)
            select g.project_id, g.customer_id, 'grant', ${big}, ${big}, 0, 0, g.id, 'bench', 'bench'
            from grants g where g.project_id = ${project.id}`
  await sql`vacuum analyze`
  await sql.end()
  await database.close()
  return { projectId: project.id, apiKey: key.key }
}

function runPgbench(url: string, scriptText: string, concurrency: number): Summary {
  const dir = mkdtempSync(join(tmpdir(), 'estars-pgbench-'))
  const script = join(dir, 'consume.sql')
  writeFileSync(script, scriptText)
  const u = new URL(url)
  execFileSync(
    'pgbench',
    [
      '-n',
      '-M',
      'prepared',
      '-c',
      String(concurrency),
      '-j',
      '2',
      '-T',
      String(seconds),
      '-f',
      script,
      '-l',
      '--log-prefix',
      join(dir, 'log'),
      '-h',
      u.hostname,
      '-p',
      u.port || '5432',
      '-U',
      decodeURIComponent(u.username || 'postgres'),
      u.pathname.slice(1),
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const latencies: number[] = []
  let first = Number.POSITIVE_INFINITY
  let last = 0
  for (const file of readdirSync(dir).filter((f) => f.startsWith('log'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      // client_id transaction_no latency_us script_no epoch_s epoch_us
      const [, , latency, , epoch, micros] = line.split(' ')
      if (!latency || !epoch || !micros) continue
      latencies.push(Number(latency) / 1000)
      const at = Number(epoch) + Number(micros) / 1e6
      first = Math.min(first, at - Number(latency) / 1e6)
      last = Math.max(last, at)
    }
  }
  return summarize(latencies, Math.max(seconds, last - first))
}

function runLoad(plan: object): Promise<Summary & { errors: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, [join(here, 'load.ts'), JSON.stringify(plan)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load exited ${code}`)),
    )
  })
}

async function startServer(url: string): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort()
  const child = spawn(tsx, [serverMain], {
    env: {
      ...process.env,
      DATABASE_URL: url,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      DB_POOL_SIZE: '32',
      SECRET_KEY: randomBytes(32).toString('base64'),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return { child, base }
    } catch {}
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error('server did not start')
}

const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits })

async function main() {
  requirePgbench()
  const db = await createBenchDatabase()
  console.log(
    `bench database ${db.name}; ${seconds}s per run; concurrency ${levels.join('/')}; ${CUSTOMERS} customers`,
  )
  const { projectId, apiKey } = await seed(db.url)
  const script = await pgbenchScriptFromEngine(db.url, projectId, CUSTOMERS)
  writeFileSync(join(here, '../consume.pgbench.sql'), script(false))
  const server = await startServer(db.url)
  const rows: string[] = []
  try {
    await runLoad({
      url: server.base,
      apiKey,
      concurrency: 8,
      seconds: 2,
      customers: CUSTOMERS,
      hot: false,
    })
    for (const hot of [false, true]) {
      for (const concurrency of levels) {
        const a = runPgbench(db.url, script(hot), concurrency)
        const b = await runLoad({
          url: server.base,
          apiKey,
          concurrency,
          seconds,
          customers: CUSTOMERS,
          hot,
        })
        const row = `| ${hot ? 'one hot customer' : '10k customers'} | ${concurrency} | ${fmt(a.opsPerSec, 0)} | ${fmt(a.p50, 2)} / ${fmt(a.p99, 2)} | ${fmt(b.opsPerSec, 0)} | ${fmt(b.p50, 2)} / ${fmt(b.p99, 2)} | ${fmt(b.opsPerSec / a.opsPerSec, 2)}× |${b.errors ? ` ${b.errors} errors` : ''}`
        rows.push(row)
        console.log(row)
      }
    }
  } finally {
    server.child.kill('SIGTERM')
    await new Promise((r) => server.child.once('exit', r))
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
    await admin.unsafe(`drop database if exists ${db.name} with (force)`)
    await admin.end()
  }
  const table = [
    '| load | concurrency | (a) pgbench ops/s | (a) p50 / p99 ms | (b) e-Stars HTTP ops/s | (b) p50 / p99 ms | (b)/(a) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n')
  console.log(`\n${table}\n`)
  writeFileSync(join(here, '../results-latest.md'), `${table}\n`)
}

await main()
