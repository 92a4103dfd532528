import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import { pgbenchScriptFromEngine } from './capture.ts'
import { CUSTOMERS, processStat, seedCustomers } from './seed.ts'
import { type Summary, summarize } from './stats.ts'

/**
 * `pnpm bench`: one run, one machine, one database, one data set (10k customers; one hot
 * customer), concurrency 8/32/64, and ratios against baselines measured in that same run:
 * - (a) pgbench `-M prepared` on the minimal consume (`minimal-consume.pgbench.sql`, fixed SQL);
 * - (a′) pgbench on exactly the statements the engine issues for one consume (capture.ts);
 * - (b) `usage.consume` through the typed client over HTTP, from a separate process;
 * - (c) `usage.consumeMany`, 100 items per call, the same way.
 * The server is the production build (`node apps/server/dist/main.mjs`); its RSS and CPU, and the
 * load generator's CPU, are read from /proc and `process.cpuUsage` per run. Prints the tables and
 * a final `BENCH {...}` line (ratios against (a)); writes results-latest.md.
 */
const adminUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres'
const levels = (process.env.BENCH_CONCURRENCY ?? '8,32,64').split(',').map(Number)
const BATCH = 100
/**
 * The whole run's bound, in seconds (default 360): every table and the BENCH line within it.
 * A run is 2 load shapes × each concurrency × 4 timed runs ((a), (a′), (b), (c)), plus about 6 s
 * per shape and concurrency for starting load generators, and a fixed part (build, seed, capture,
 * warm-up, about 60 s). BENCH_SECONDS (default 6) is shortened to fit the budget, never below 3.
 */
const budget = Number(process.env.BENCH_BUDGET_SECONDS ?? 360)
const TIMED_RUNS = 4
const FIXED_SECONDS = 60
const PER_STEP_SECONDS = 6
const steps = 2 * levels.length
const wanted = Number(process.env.BENCH_SECONDS ?? 6)
const fitting = Math.floor(
  (budget - FIXED_SECONDS - steps * PER_STEP_SECONDS) / (steps * TIMED_RUNS),
)
const seconds = Math.max(3, Math.min(wanted, fitting))
/** BENCH_BUILD=off reuses apps/server/dist as it is (a rerun on the same commit). */
const build = process.env.BENCH_BUILD !== 'off'
const here = fileURLToPath(new URL('.', import.meta.url))
const tsx = join(here, '../node_modules/.bin/tsx')
const serverDir = join(here, '../../../apps/server')
const minimalScript = join(here, '../minimal-consume.pgbench.sql')

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

async function createBenchDatabase(template?: string, suffix = 'raw') {
  const name = template ? `${template}_${suffix}` : `estars_bench_${Date.now()}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}${template ? ` template ${template}` : ''}`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return { name, url: url.toString() }
}

function runPgbench(
  url: string,
  scriptText: string,
  concurrency: number,
  defines: Record<string, string> = {},
): Summary {
  const dir = mkdtempSync(join(tmpdir(), 'estars-pgbench-'))
  const script = join(dir, 'consume.sql')
  writeFileSync(script, scriptText)
  const u = new URL(url)
  const pgbench = (args: string[]) => {
    try {
      execFileSync('pgbench', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr ?? '')
      throw new Error(`pgbench failed on ${script}:\n${stderr.split('\n').slice(0, 6).join('\n')}`)
    }
  }
  pgbench([
    '-n',
    '-M',
    'prepared',
    '-c',
    String(concurrency),
    '-j',
    '2',
    '-T',
    String(seconds),
    ...Object.entries(defines).flatMap(([name, value]) => ['-D', `${name}=${value}`]),
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
  ])
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

interface LoadResult extends Summary {
  errors: number
  firstErrors?: string[]
  cpuMicros: number
}

interface Measured extends LoadResult {
  serverCpuMicros: number
  serverRssMB: number
}

/** One load run, with the server's CPU over the run and its largest RSS sampled during it. */
async function runLoad(serverPid: number, plan: object): Promise<Measured> {
  const before = processStat(serverPid)
  let rssMB = before.rssMB
  const sampler = setInterval(() => {
    rssMB = Math.max(rssMB, processStat(serverPid).rssMB)
  }, 250)
  try {
    const result = await new Promise<LoadResult>((resolve, reject) => {
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
    const after = processStat(serverPid)
    return {
      ...result,
      serverCpuMicros: after.cpuMicros - before.cpuMicros,
      serverRssMB: Math.max(rssMB, after.rssMB),
    }
  } finally {
    clearInterval(sampler)
  }
}

/** The production build, started with node: what `start:prod` runs (docs/deploy.md). */
async function startServer(url: string): Promise<{ child: ChildProcess; base: string }> {
  if (build)
    execFileSync('pnpm', ['run', 'build'], {
      cwd: serverDir,
      stdio: ['ignore', 'ignore', 'inherit'],
    })
  const port = await freePort()
  const child = spawn(process.execPath, [join(serverDir, 'dist/main.mjs')], {
    cwd: serverDir,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: url,
      HOST: '127.0.0.1',
      PORT: String(port),
      SANDBOX: 'off',
      LOG_LEVEL: 'warn',
      DB_POOL_SIZE: process.env.BENCH_POOL_SIZE ?? '32',
      SECRET_KEY: randomBytes(32).toString('base64'),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return { child, base }
    } catch {}
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error('server did not start')
}

const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits })
const ratio = (x: number, base: number) => `${fmt(x / base, 2)}×`
const latency = (s: Summary) => `${fmt(s.p50, 2)} / ${fmt(s.p99, 2)}`
const perOp = (micros: number, ops: number) => (ops > 0 ? fmt(micros / ops, 0) : '–')

/** Whether this build's router has `usage.consumeMany` (the typed client cannot tell at run time). */
async function hasConsumeMany(base: string, apiKey: string): Promise<boolean> {
  const response = await fetch(`${base}/trpc/usage.consumeMany`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ items: [] }),
  })
  return response.status !== 404
}

async function main() {
  requirePgbench()
  const began = performance.now()
  const db = await createBenchDatabase()
  if (seconds < wanted)
    console.log(
      `BENCH_SECONDS=${wanted} does not fit BENCH_BUDGET_SECONDS=${budget}: ${seconds}s per run`,
    )
  console.log(
    `bench database ${db.name}; ${seconds}s per run; concurrency ${levels.join('/')}; ${CUSTOMERS} customers; ${BATCH} items per consumeMany; about ${Math.ceil((FIXED_SECONDS + steps * (PER_STEP_SECONDS + TIMED_RUNS * seconds)) / 60)} min`,
  )
  const { projectId, apiKey } = await seedCustomers(db.url)
  const script = await pgbenchScriptFromEngine(db.url, projectId, CUSTOMERS)
  writeFileSync(join(here, '../consume.pgbench.sql'), script(false))
  const minimal = readFileSync(minimalScript, 'utf8')
  // Each baseline runs on its own copy of the seeded database, on the same PostgreSQL: the
  // captured statements (a′) write the captured call's absolute values (available = 1, a lot's
  // remaining = 1) to whichever customer they pick, so they must touch neither the rows the server
  // is measured on nor those (a) decrements (it would find them empty and commit no-ops).
  const raw = await createBenchDatabase(db.name, 'raw')
  const raw2 = await createBenchDatabase(db.name, 'engine')
  const server = await startServer(db.url)
  const pid = server.child.pid!
  const throughput: string[] = []
  const costs: string[] = []
  const figures = new Map<string, { a: Summary; b: Measured; c: Measured | null }>()
  let rssMB = 0
  try {
    const batched = await hasConsumeMany(server.base, apiKey)
    if (!batched) console.log('usage.consumeMany is not in this build: (c) is not measured')
    const load = { url: server.base, apiKey, customers: CUSTOMERS }
    await runLoad(pid, { ...load, concurrency: 8, seconds: 2, hot: false })
    for (const hot of [false, true]) {
      for (const concurrency of levels) {
        const customers = String(hot ? 1 : CUSTOMERS)
        const a = runPgbench(raw.url, minimal, concurrency, { project: projectId, customers })
        const a2 = runPgbench(raw2.url, script(hot), concurrency)
        const b = await runLoad(pid, { ...load, concurrency, seconds, hot })
        const c = batched
          ? await runLoad(pid, { ...load, concurrency, seconds, hot, batch: BATCH })
          : null
        rssMB = Math.max(rssMB, b.serverRssMB, c?.serverRssMB ?? 0)
        figures.set(`${hot ? 'hot' : 'spread'}${concurrency}`, { a, b, c })
        const name = hot ? 'one hot customer' : '10k customers'
        for (const [which, r] of [
          ['(b)', b],
          ['(c)', c],
        ] as const)
          if (r?.errors)
            console.error(
              `${name}, ${concurrency} callers, ${which}: ${r.errors} errors, e.g. ${r.firstErrors?.join(' | ')}`,
            )
        const row = `| ${name} | ${concurrency} | ${fmt(a.opsPerSec, 0)} | ${fmt(a2.opsPerSec, 0)} (${ratio(a2.opsPerSec, a.opsPerSec)}) | ${fmt(b.opsPerSec, 0)} (${ratio(b.opsPerSec, a.opsPerSec)}) | ${c ? `${fmt(c.opsPerSec, 0)} (${ratio(c.opsPerSec, a.opsPerSec)})` : 'not in this build'} | ${latency(a)} | ${latency(b)} | ${c ? latency(c) : '–'} |${b.errors || c?.errors ? ` errors: ${b.errors} / ${c?.errors ?? 0}` : ''}`
        throughput.push(row)
        console.log(row)
        costs.push(
          `| ${name} | ${concurrency} | ${perOp(b.serverCpuMicros, b.ops)} | ${perOp(b.cpuMicros, b.ops)} | ${fmt(b.serverRssMB, 0)} | ${c ? perOp(c.serverCpuMicros, c.ops) : '–'} | ${c ? perOp(c.cpuMicros, c.ops) : '–'} | ${c ? fmt(c.serverRssMB, 0) : '–'} |`,
        )
      }
    }
  } finally {
    server.child.kill('SIGTERM')
    await new Promise((r) => server.child.once('exit', r))
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
    await admin.unsafe(`drop database if exists ${db.name} with (force)`)
    await admin.unsafe(`drop database if exists ${raw.name} with (force)`)
    await admin.unsafe(`drop database if exists ${raw2.name} with (force)`)
    await admin.end()
  }
  const tables = [
    'Consumes per second (ratio against (a) in this run) and per-call latency p50 / p99 in ms:',
    '',
    '| load | callers | (a) minimal SQL | (a′) engine SQL | (b) usage.consume | (c) consumeMany ×100 | (a) p50 / p99 | (b) p50 / p99 | (c) p50 / p99 per call |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...throughput,
    '',
    "CPU per consume in µs (server, load generator) and the server's largest RSS in MB during the run:",
    '',
    '| load | callers | (b) server µs | (b) client µs | (b) RSS | (c) server µs | (c) client µs | (c) RSS |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...costs,
  ].join('\n')
  console.log(`\n${tables}\n`)
  writeFileSync(join(here, '../results-latest.md'), `${tables}\n`)
  const top = Math.max(...levels)
  const spread = figures.get(`spread${top}`)
  const hot = figures.get(`hot${top}`)
  const round = (n: number | undefined) => (n === undefined ? null : Math.round(n * 100) / 100)
  const line = {
    [`spread${top}`]: round(spread && spread.b.opsPerSec / spread.a.opsPerSec),
    [`hot${top}`]: round(hot && hot.b.opsPerSec / hot.a.opsPerSec),
    batch: round(spread?.c ? spread.c.opsPerSec / spread.a.opsPerSec : undefined),
    p99ms: round(spread?.b.p99),
    rssMB: Math.round(rssMB),
  }
  console.log(`bench took ${Math.round((performance.now() - began) / 1000)} s`)
  console.log(`BENCH ${JSON.stringify(line)}`)
}

await main()
