/**
 * `pnpm -F @e-stars/bench exec tsx src/http-path.ts`: Express against tRPC's standalone Node adapter for the bot's
 * path (issue 13, "a lean HTTP path"). One database seeded like `pnpm bench` (10k customers),
 * then `usage.consume` through the typed client (httpBatchLink) from a separate process, N
 * concurrent callers, against each front of `http-path-server.ts` in turn, rounds interleaved
 * (express, front, bare, express, …) so a machine that gets busier slows every variant alike.
 * Prints consumes/s, p50/p99 and the server's CPU per consume for each.
 * Knobs: BENCH_SECONDS (8), BENCH_CONCURRENCY (64), HTTP_PATH_ROUNDS (2), HTTP_PATH_VARIANTS.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import { CUSTOMERS, processStat, seedCustomers } from './seed.ts'

const adminUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres'
const seconds = Number(process.env.BENCH_SECONDS ?? 8)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64)
const rounds = Number(process.env.HTTP_PATH_ROUNDS ?? 2)
const variants = (process.env.HTTP_PATH_VARIANTS ?? 'express,front,bare').split(',')
const here = fileURLToPath(new URL('.', import.meta.url))
const tsx = join(here, '../node_modules/.bin/tsx')

async function start(
  variant: string,
  url: string,
): Promise<{ child: ChildProcess; base: string; seen: () => { requests: number; calls: number } }> {
  // node itself (tsx as a loader), so the pid measured is the server's, not a launcher's.
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'http-path-server.ts')], {
    cwd: join(here, '..'),
    env: { ...process.env, NODE_ENV: 'production', VARIANT: variant, DATABASE_URL: url, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening (.*)\n/.exec(out)
      if (match) resolve(JSON.parse(match[1]!).port)
    })
    child.once('exit', (code) => reject(new Error(`${variant} server exited ${code}`)))
  })
  const seen = () => JSON.parse(/seen (.*)\n/.exec(out)?.[1] ?? '{"requests":0,"calls":0}')
  return { child, base: `http://127.0.0.1:${port}`, seen }
}

function load(
  plan: object,
): Promise<{ opsPerSec: number; p50: number; p99: number; ops: number; errors: number }> {
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

async function main() {
  const name = `estars_httppath_${Date.now()}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const { apiKey } = await seedCustomers(url.toString())
  const results = new Map<
    string,
    Array<{ ops: number; p50: number; p99: number; cpu: number; perRequest: number }>
  >()
  try {
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        const server = await start(variant, url.toString())
        const plan = { url: server.base, apiKey, customers: CUSTOMERS, hot: false }
        await load({ ...plan, concurrency, seconds: 2 }) // warm-up: JIT, pool, key cache
        const before = processStat(server.child.pid!).cpuMicros
        const run = await load({ ...plan, concurrency, seconds })
        const cpu = processStat(server.child.pid!).cpuMicros - before
        server.child.kill('SIGTERM')
        await new Promise((r) => server.child.once('exit', r))
        const { requests, calls } = server.seen()
        if (run.errors) console.log(`${variant}: ${run.errors} errors`)
        const row = {
          ops: run.opsPerSec,
          p50: run.p50,
          p99: run.p99,
          cpu: cpu / run.ops,
          perRequest: requests ? calls / requests : 0,
        }
        console.log(
          `round ${round + 1} ${variant.padEnd(8)} ${row.ops.toFixed(0)} consumes/s  p50 ${row.p50.toFixed(2)} ms  p99 ${row.p99.toFixed(2)} ms  server ${row.cpu.toFixed(0)} µs CPU/consume  ${row.perRequest.toFixed(1)} calls per HTTP request`,
        )
        results.set(variant, [...(results.get(variant) ?? []), row])
      }
    }
  } finally {
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  }
  console.log(
    `\n| front | consumes/s | p50 / p99 ms | server µs CPU per consume | calls per HTTP request |`,
  )
  console.log('|---|---:|---:|---:|---:|')
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  for (const [variant, rows] of results)
    console.log(
      `| ${variant} | ${mean(rows.map((r) => r.ops)).toFixed(0)} | ${mean(rows.map((r) => r.p50)).toFixed(2)} / ${mean(rows.map((r) => r.p99)).toFixed(2)} | ${mean(rows.map((r) => r.cpu)).toFixed(0)} | ${mean(rows.map((r) => r.perRequest)).toFixed(1)} |`,
    )
}

await main()
