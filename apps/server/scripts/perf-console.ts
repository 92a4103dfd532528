/**
 * Console latency at scale: seeds 100 000 customers and 1 000 000 ledger entries into a fresh
 * PostgreSQL database with generate_series, starts the real server, logs in as an operator and
 * times customer search and customer detail over HTTP (loopback), as the console calls them.
 *
 *   pnpm --filter @e-stars/server perf:console
 *   PERF_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres PERF_CUSTOMERS=100000 …
 *
 * Rerunnable: each run seeds a fresh database (cloned from the migrated template) and drops it.
 */
import { performance } from 'node:perf_hooks'
import { createOperator, createProject, generateSecretKey } from '@e-stars/billing'
import { createTestDatabase } from '@e-stars/db/testing'
import { sql } from 'drizzle-orm'
import { parseEnv } from '../src/env.ts'
import { startServer } from '../src/server.ts'

const adminUrl = process.env.PERF_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const customers = Number(process.env.PERF_CUSTOMERS ?? 100_000)
const entriesPerCustomer = Number(process.env.PERF_ENTRIES_PER_CUSTOMER ?? 10)
const samples = Number(process.env.PERF_SAMPLES ?? 300)

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

function report(name: string, timings: number[]) {
  const sorted = [...timings].sort((a, b) => a - b)
  const line = {
    name,
    n: sorted.length,
    p50: +percentile(sorted, 50).toFixed(1),
    p95: +percentile(sorted, 95).toFixed(1),
    p99: +percentile(sorted, 99).toFixed(1),
    max: +sorted[sorted.length - 1]!.toFixed(1),
  }
  console.log(
    `${name.padEnd(34)} n=${line.n}  p50=${line.p50} ms  p95=${line.p95} ms  p99=${line.p99} ms  max=${line.max} ms`,
  )
  return line
}

async function main() {
  // The test-database factory makes (and afterwards drops) a fresh migrated PostgreSQL database.
  process.env.TEST_DATABASE_URL = adminUrl
  const database = await createTestDatabase({ poolSize: 10 })
  const db = database.db

  console.log(`seeding ${customers} customers, ${customers * entriesPerCustomer} ledger entries…`)
  const seedStart = performance.now()
  const project = await createProject(db, { name: 'Perf bot' })
  const p = project.id
  const names = sql`(array['Alice','Bob','Carol','Dmitri','Eva','Farid','Grace','Hiro','Ines','Jonas',
    'Kira','Liam','Mei','Nadia','Omar','Pia','Quinn','Ravi','Sofia','Tomas'])`
  await db.execute(sql`
    insert into customers (project_id, telegram_user_id, username, first_name, last_name, available, created_at, last_active_at)
    select ${p}, 1000000000 + n,
      case when n % 3 = 0 then null else 'user_' || n end,
      ${names}[1 + n % 20], 'Family' || (n % 997),
      ${1000 - (entriesPerCustomer - 1) * 10},
      now() - (n || ' seconds')::interval, now() - ((n % 5000) || ' seconds')::interval
    from generate_series(1, ${customers}) n`)
  await db.execute(sql`
    insert into grants (project_id, customer_id, amount, remaining, source, reason, created_at)
    select project_id, id, 1000, ${1000 - (entriesPerCustomer - 1) * 10}, 'payment', 'Pack M', created_at
    from customers where project_id = ${p}`)
  await db.execute(sql`
    insert into payments (project_id, telegram_payment_charge_id, customer_id, telegram_user_id, product_key,
      amount_stars, invoice_payload, status, recorded_via, paid_at)
    select c.project_id, 'perf_' || c.id, c.id, c.telegram_user_id, 'pack_m', 250, 'perf', 'paid', 'api', c.created_at
    from customers c where c.project_id = ${p}`)
  await db.execute(sql`update grants g set payment_id = p.id from payments p
    where g.project_id = ${p} and p.project_id = g.project_id and p.customer_id = g.customer_id`)
  // Entry k of each customer: k = 0 the grant, then consumptions of 10 credits each.
  await db.execute(sql`
    insert into ledger_entries (project_id, customer_id, kind, amount, available_after, held_after, debt_after,
      grant_id, reason, actor, metadata, created_at)
    select c.project_id, c.id,
      case when k = 0 then 'grant' else 'consume' end,
      case when k = 0 then 1000 else -10 end,
      1000 - k * 10, 0, 0,
      case when k = 0 then g.id end,
      case when k = 0 then 'Pack M' else 'AI answer' end,
      'perf',
      case when k = 0 then '{"source":"payment"}'::jsonb else jsonb_build_object('tokens', 1000 + k) end,
      c.created_at + (k || ' minutes')::interval
    from customers c
    join grants g on g.project_id = c.project_id and g.customer_id = c.id
    cross join generate_series(0, ${entriesPerCustomer - 1}) k
    where c.project_id = ${p}
    order by c.id, k`)
  await db.execute(sql`analyze`)
  const [{ n }] = (await db.execute(
    sql`select count(*)::int as n from ledger_entries`,
  )) as unknown as [{ n: number }]
  console.log(
    `seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s (${n} ledger entries)`,
  )

  const password = 'perf password 1'
  await createOperator(db, { email: 'perf@e-stars.local', password, projectId: p })
  const silent = { info() {}, warn() {}, error() {} }
  const server = await startServer(
    parseEnv({
      PORT: '0',
      SECRET_KEY: generateSecretKey(),
      RECONCILE_INTERVAL_SECONDS: '0',
      LOG_LEVEL: 'silent',
    }),
    silent,
    { database },
  )
  try {
    const login = await fetch(`${server.url}/trpc/operator.auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'perf@e-stars.local', password }),
    })
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!
    const call = async (path: string, input: unknown) => {
      const started = performance.now()
      const response = await fetch(
        `${server.url}/trpc/${path}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`,
        { headers: { cookie } },
      )
      const body = await response.text()
      const elapsed = performance.now() - started
      if (response.status !== 200)
        throw new Error(`${path}: ${response.status} ${body.slice(0, 300)}`)
      return { elapsed, body }
    }
    const one = (procedure: string, input: unknown) => call(procedure, { 0: input })
    const queries = [
      () => ({ query: null }),
      () => ({ query: `@user_${1 + Math.floor(Math.random() * customers)}`.slice(0, 9) }),
      () => ({ query: ['ali', 'bo', 'sofia', 'hiro', 'nad', 'q'][Math.floor(Math.random() * 6)] }),
      () => ({ query: `family${Math.floor(Math.random() * 997)}` }),
      () => ({ query: String(1_000_000_000 + 1 + Math.floor(Math.random() * customers)) }),
      () => ({ query: 'alice family1' }),
    ]
    // Warm up the pool and the plans.
    for (let i = 0; i < 20; i++)
      await one('operator.customers.search', { projectId: p, ...queries[i % 6]!() })
    const search: number[] = []
    for (let i = 0; i < samples; i++)
      search.push(
        (await one('operator.customers.search', { projectId: p, ...queries[i % 6]!(), limit: 25 }))
          .elapsed,
      )
    const pageTwo: number[] = []
    for (let i = 0; i < samples / 3; i++) {
      const first = JSON.parse(
        (await one('operator.customers.search', { projectId: p, query: 'ali', limit: 25 })).body,
      ) as Array<{ result: { data: { nextCursor: string } } }>
      pageTwo.push(
        (
          await one('operator.customers.search', {
            projectId: p,
            query: 'ali',
            cursor: first[0]!.result.data.nextCursor,
            limit: 25,
          })
        ).elapsed,
      )
    }
    // The customer page: detail, balance, first timeline page and quotas in one batched request.
    const detail: number[] = []
    for (let i = 0; i < samples; i++) {
      const telegramUserId = 1_000_000_000 + 1 + Math.floor(Math.random() * customers)
      const procedures = [
        'operator.customers.detail',
        'operator.customers.balance',
        'operator.customers.timeline',
        'operator.customers.quotas',
      ].join(',')
      detail.push(
        (
          await call(procedures, {
            0: { projectId: p, telegramUserId },
            1: { projectId: p, telegramUserId },
            2: { projectId: p, telegramUserId, limit: 50 },
            3: { projectId: p, telegramUserId },
          })
        ).elapsed,
      )
    }
    console.log(
      `\nHTTP over loopback (includes tRPC, auth, JSON): ${customers} customers, ${n} entries`,
    )
    const results = [
      report('customers.search (mixed queries)', search),
      report('customers.search page 2 ("ali")', pageTwo),
      report('customer page (4 procedures, 1 request)', detail),
    ]
    const worst = Math.max(...results.map((r) => r.p99))
    console.log(
      worst < 150 ? '\nOK: every p99 is under 150 ms' : `\nSLOW: a p99 is ${worst} ms (limit 150)`,
    )
    if (worst >= 150) process.exitCode = 1
  } finally {
    await server.close()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
