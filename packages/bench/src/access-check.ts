/**
 * `access.check` latency over HTTP against a live server on PostgreSQL.
 *
 *   pnpm --filter @e-stars/bench exec tsx src/access-check.ts
 *
 * Creates a scratch database on BENCH_DATABASE_URL (default the local PostgreSQL), seeds the demo
 * features with 1,000 customers (credits, usage in today's window, some `pro` entitlements and
 * `plus` holders), starts the real server (src/main.ts) in its own process, then calls
 * `GET /trpc/access.check` from this process: sequentially (pure latency) and with 16 in flight.
 * Prints p50/p90/p99 in milliseconds and requests per second, then drops the database.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  createApiKey,
  createProject,
  grantEntitlementByOperator,
  seedDemoFeatures,
} from '@e-stars/billing'
import { openDatabase } from '@e-stars/db'
import postgres from 'postgres'

const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const SEQUENTIAL = Number(process.env.BENCH_REQUESTS ?? 3000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16)
const CUSTOMERS = 1000
const here = fileURLToPath(new URL('.', import.meta.url))
const tsx = join(here, '../node_modules/.bin/tsx')

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function seed(url: string) {
  const database = await openDatabase({ url, poolSize: 4 })
  const project = await createProject(database.db, { name: 'access bench' })
  await seedDemoFeatures(database.db, project.id)
  const key = await createApiKey(database.db, { projectId: project.id, name: 'bench' })
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  await sql`insert into customers (project_id, telegram_user_id, available)
            select ${project.id}, g, 1000000 from generate_series(1, ${CUSTOMERS}) g`
  await sql`insert into grants (project_id, customer_id, amount, remaining, source, reason)
            select project_id, id, 1000000, 1000000, 'promo', 'bench' from customers where project_id = ${project.id}`
  await sql`insert into ledger_entries (project_id, customer_id, kind, amount, available_after, held_after, debt_after, grant_id, reason, actor)
            select g.project_id, g.customer_id, 'grant', 1000000, 1000000, 0, 0, g.id, 'bench', 'bench'
            from grants g where g.project_id = ${project.id}`
  // 20 uses per customer and feature over the last 30 days, a few of them today.
  await sql`insert into usage_events (project_id, customer_id, feature_key, quantity, free_quantity, credits, occurred_at)
            select c.project_id, c.id, f.key, case f.key when 'image' then 1 else 800 end, 0, 1,
                   now() - (n * interval '36 hours')
            from customers c cross join (values ('image'), ('ai.tokens')) f(key)
              cross join generate_series(0, 19) n
            where c.project_id = ${project.id}`
  for (let user = 1; user <= CUSTOMERS; user += 3) {
    await grantEntitlementByOperator(database.db, {
      projectId: project.id,
      telegramUserId: user,
      featureKey: 'pro',
      durationDays: 30,
      actor: 'bench',
    })
  }
  await sql`vacuum analyze`
  await sql.end()
  await database.close()
  return key.key
}

async function startServer(url: string): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort()
  const child = spawn(tsx, [join(here, '../../../apps/server/src/main.ts')], {
    env: {
      ...process.env,
      DATABASE_URL: url,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      SECRET_KEY: randomBytes(32).toString('base64'),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return { child, base }
    } catch {}
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error('server did not start')
}

const FEATURES = ['image', 'ai.tokens', 'pro'] as const

function checkUrl(base: string, i: number) {
  const input = {
    telegramUserId: 1 + ((i * 7919) % CUSTOMERS),
    feature: FEATURES[i % FEATURES.length],
    quantity: i % 3 === 1 ? 1500 : 1,
  }
  return `${base}/trpc/access.check?input=${encodeURIComponent(JSON.stringify(input))}`
}

async function call(
  base: string,
  apiKey: string,
  i: number,
  url = checkUrl(base, i),
): Promise<number> {
  const started = performance.now()
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${apiKey}` },
  })
  const body = (await response.json()) as { result?: { data: { reason: string } } }
  if (!response.ok || !body.result)
    throw new Error(`HTTP ${response.status}: ${JSON.stringify(body)}`)
  return performance.now() - started
}

function percentiles(latencies: number[]) {
  const sorted = [...latencies].sort((a, b) => a - b)
  const rank = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
  return { n: sorted.length, p50: rank(50), p90: rank(90), p99: rank(99), max: sorted.at(-1) ?? 0 }
}

const ms = (n: number) => n.toFixed(2)

async function main() {
  const name = `estars_bench_access_${Date.now()}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  let server: { child: ChildProcess; base: string } | null = null
  try {
    const apiKey = await seed(url.toString())
    server = await startServer(url.toString())
    const { base } = server
    for (let i = 0; i < 300; i++) await call(base, apiKey, i) // warm-up: JIT, pool, caches
    const sequential: number[] = []
    for (let i = 0; i < SEQUENTIAL; i++) sequential.push(await call(base, apiKey, i))
    const s = percentiles(sequential)
    // Baseline: the same HTTP + tRPC + API-key path with no access logic.
    const whoami: number[] = []
    for (let i = 0; i < SEQUENTIAL; i++)
      whoami.push(await call(base, apiKey, i, `${base}/trpc/project.whoami`))
    const w = percentiles(whoami)
    const byFeature = FEATURES.map((feature, f) => ({
      feature,
      ...percentiles(sequential.filter((_, i) => i % FEATURES.length === f)),
    }))
    const concurrent: number[] = []
    const until = performance.now() + SECONDS * 1000
    let next = 0
    const startedAt = performance.now()
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < until) concurrent.push(await call(base, apiKey, next++))
      }),
    )
    const elapsed = (performance.now() - startedAt) / 1000
    const c = percentiles(concurrent)
    console.log(
      `access.check over HTTP, PostgreSQL, ${CUSTOMERS} customers, features image/ai.tokens/pro`,
    )
    console.log('| in flight | requests | p50 ms | p90 ms | p99 ms | max ms | req/s |')
    console.log('|---|---|---|---|---|---|---|')
    console.log(
      `| 1 | ${s.n} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} | ${(s.n / (sequential.reduce((a, b) => a + b, 0) / 1000)).toFixed(0)} |`,
    )
    for (const f of byFeature)
      console.log(
        `| 1 (${f.feature} only) | ${f.n} | ${ms(f.p50)} | ${ms(f.p90)} | ${ms(f.p99)} | ${ms(f.max)} | |`,
      )
    console.log(
      `| 1 (baseline: project.whoami) | ${w.n} | ${ms(w.p50)} | ${ms(w.p90)} | ${ms(w.p99)} | ${ms(w.max)} | |`,
    )
    console.log(
      `| ${CONCURRENCY} | ${c.n} | ${ms(c.p50)} | ${ms(c.p90)} | ${ms(c.p99)} | ${ms(c.max)} | ${(c.n / elapsed).toFixed(0)} |`,
    )
  } finally {
    server?.child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 500))
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  }
}

await main()
