import { timingSafeEqual } from 'node:crypto'
import { appRouter, openApiDocument, REST_BASE_PATH } from '@e-stars/api'
import { type Db, rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import type express from 'express'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/**
 * Prometheus metrics (docs/deploy.md, "What to monitor"). Three sources:
 * - the HTTP layer: one observation per tRPC procedure call and per REST or other route, labelled
 *   by a bounded name (a procedure the router has, a route template), never by a raw URL;
 * - background jobs, through `jobMetrics` (process-wide: every server in the process shares it);
 * - the database, read at scrape time with a short cache and a timeout, so every replica reports
 *   the same totals and a slow database cannot hang a scrape;
 * - this replica's database pool, counted where calls leave for it (`poolStatsOf`).
 * Labels carry the project id where it is useful and never a customer id (cardinality).
 */

/** The jobs' registry, shared by every server in the process (jobs.ts, reconcile-job.ts, relay.ts). */
const jobRegistry = new Registry()

const jobRuns = new Counter({
  name: 'estars_job_runs_total',
  help: 'Background job runs, by job and outcome',
  labelNames: ['job', 'outcome'] as const,
  registers: [jobRegistry],
})
const jobLastSuccess = new Gauge({
  name: 'estars_job_last_success_timestamp_seconds',
  help: 'When each background job last finished a run without failing (Unix seconds)',
  labelNames: ['job'] as const,
  registers: [jobRegistry],
})

export type JobName =
  | 'expiry'
  | 'sessions'
  | 'ledger-verify'
  | 'reconcile'
  | 'relay-forward'
  | 'webhooks'
  | 'margin-alerts'

/** The hook every job calls once per run; it never changes what the job does. */
export const jobMetrics = {
  succeeded(job: JobName) {
    jobRuns.inc({ job, outcome: 'success' })
    jobLastSuccess.set({ job }, Date.now() / 1000)
  },
  failed(job: JobName) {
    jobRuns.inc({ job, outcome: 'failure' })
  },
  /** Counts `run`'s outcome; returns what it returns and rethrows what it throws. */
  async track<T>(job: JobName, run: () => Promise<T>): Promise<T> {
    try {
      const result = await run()
      jobMetrics.succeeded(job)
      return result
    } catch (error) {
      jobMetrics.failed(job)
      throw error
    }
  },
}

/** How long a database snapshot serves scrapes; many Prometheus servers scrape every replica. */
const SNAPSHOT_TTL_MS = 10_000
/** A scrape gives up on the database after this and reports `estars_database_up 0`. */
const SNAPSHOT_TIMEOUT_MS = 2_000

interface Snapshot {
  relay: { project_id: string; given_up: boolean; backlog: number; oldest_seconds: number }[]
  findings: { project_id: string; kind: string; open: boolean; count: number }[]
  ledger: { project_id: string; kind: string; count: number; amount: string }[]
  payments: { project_id: string; status: string; count: number; stars: string }[]
}

/**
 * One pass over the tables the gauges read: each query is a grouped count over an index or a
 * table scan the size of the table; at scale, raise SNAPSHOT_TTL_MS rather than scrape less.
 */
async function readSnapshot(db: Db): Promise<Snapshot> {
  // One after the other: PGlite is one connection, and a scrape should take one pool slot.
  const relay = await rows<Snapshot['relay'][number]>(
    db,
    sql`select project_id, next_attempt_at = 'infinity'::timestamptz as given_up,
          count(*)::int as backlog,
          extract(epoch from now() - min(received_at))::float8 as oldest_seconds
        from relay_updates where forwarded_at is null group by 1, 2`,
  )
  const findings = await rows<Snapshot['findings'][number]>(
    db,
    sql`select project_id, kind, resolved_at is null as open, count(*)::int as count
        from reconciliation_findings group by 1, 2, 3`,
  )
  const ledger = await rows<Snapshot['ledger'][number]>(
    db,
    sql`select project_id, kind, count(*)::int as count, coalesce(sum(amount), 0)::text as amount
        from ledger_entries group by 1, 2`,
  )
  const payments = await rows<Snapshot['payments'][number]>(
    db,
    sql`select project_id, status, count(*)::int as count,
          coalesce(sum(amount_stars), 0)::text as stars
        from payments group by 1, 2`,
  )
  return { relay, findings, ledger, payments }
}

/**
 * This replica's pool, counted at drizzle's session: every statement or transaction the server
 * starts outside a transaction takes one pool connection for as long as it runs (statements
 * inside a transaction run on that transaction's connection). postgres.js does not publish its
 * queue, so "in use" is the calls in flight up to the pool's size and "waiting" the rest; the
 * latency is a call's, wait for a connection included. PGlite is a pool of one.
 */
interface PoolStats {
  size: number
  inFlight: number
  observers: Set<(kind: 'statement' | 'transaction', seconds: number, failed: boolean) => void>
}

const poolStats = new WeakMap<Db, PoolStats>()

type Session = {
  prepareQuery: (...args: unknown[]) => Record<string, unknown>
  transaction: (...args: unknown[]) => Promise<unknown>
}

/** The pool counters of `db`, installed once per database handle (every app on it shares them). */
export function poolStatsOf(db: Db): PoolStats {
  const known = poolStats.get(db)
  if (known) return known
  const handle = db as unknown as {
    session?: Session
    $client?: { options?: { max?: number } }
  }
  const stats: PoolStats = {
    size: handle.$client?.options?.max ?? 1,
    inFlight: 0,
    observers: new Set(),
  }
  poolStats.set(db, stats)
  const session = handle.session
  if (!session) return stats
  const timed = async <T>(kind: 'statement' | 'transaction', run: () => Promise<T>) => {
    const started = process.hrtime.bigint()
    stats.inFlight++
    let failed = true
    try {
      const result = await run()
      failed = false
      return result
    } finally {
      stats.inFlight--
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      for (const observe of stats.observers) observe(kind, seconds, failed)
    }
  }
  const prepareQuery = session.prepareQuery.bind(session)
  session.prepareQuery = (...args) => {
    const prepared = prepareQuery(...args)
    for (const method of ['execute', 'all'] as const) {
      const original = prepared[method]
      if (typeof original !== 'function') continue
      prepared[method] = (...callArgs: unknown[]) =>
        timed('statement', () =>
          (original as (...a: unknown[]) => Promise<unknown>).apply(prepared, callArgs),
        )
    }
    return prepared
  }
  const transaction = session.transaction.bind(session)
  session.transaction = (...args) => timed('transaction', () => transaction(...args))
  return stats
}

/** Procedure paths the router has: anything else in a URL is counted as `unknown`. */
const PROCEDURES = new Set(Object.keys(appRouter._def.procedures))

/** `/customers/{telegramUserId}` as a matcher, from the OpenAPI document the REST layer serves. */
const REST_ROUTES = Object.keys(
  (openApiDocument(REST_BASE_PATH) as { paths?: Record<string, unknown> }).paths ?? {},
).map((template) => ({
  template: `${REST_BASE_PATH}${template}`,
  pattern: new RegExp(
    `^${template
      .split(/\{[^}]+\}/)
      .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
      .join('[^/]+')}/?$`,
  ),
}))

/** The REST route template (`/api/v1/customers/{telegramUserId}`) a request path matches, or null. */
export function restRouteOf(path: string): string | null {
  const relative = path.startsWith(REST_BASE_PATH) ? path.slice(REST_BASE_PATH.length) : path
  return REST_ROUTES.find((route) => route.pattern.test(relative))?.template ?? null
}

/** `/trpc/a.b,c.d` → the procedures it calls (unknown names collapse to `unknown`). */
export function proceduresOf(trpcPath: string): string[] {
  const names = trpcPath.replace(/^\/+/, '').split(',').slice(0, 100)
  return names.map((name) => (PROCEDURES.has(name) ? name : 'unknown'))
}

/**
 * What a request called, in bounded names: tRPC procedures the router has, a REST route
 * template, or another route's Express path (`unmatched` when no route answered).
 */
export function routesOf(req: express.Request): {
  api: 'trpc' | 'rest' | 'other'
  routes: string[]
} {
  const path = req.originalUrl.split('?')[0] ?? ''
  if (path === '/trpc' || path.startsWith('/trpc/'))
    return { api: 'trpc', routes: proceduresOf(path.slice('/trpc'.length)) }
  if (path === REST_BASE_PATH || path.startsWith(`${REST_BASE_PATH}/`))
    return { api: 'rest', routes: [restRouteOf(path) ?? 'unknown'] }
  return { api: 'other', routes: [(req.route?.path as string | undefined) ?? 'unmatched'] }
}

export interface ServerMetrics {
  /** Express middleware: one observation per call when the response has been sent. */
  observe: express.RequestHandler
  /** Notes a tRPC call's error status (createExpressMiddleware's `onError`). */
  procedureFailed(res: express.Response, path: string | undefined, status: number): void
  /** The Prometheus text of everything. */
  text(): Promise<{ contentType: string; body: string }>
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const QUERY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

export function createMetrics(db: Db): ServerMetrics {
  const registry = new Registry()
  const requests = new Histogram({
    name: 'estars_http_request_duration_seconds',
    help: 'Request latency by API family (trpc, rest, other), procedure or route template, and status',
    labelNames: ['api', 'route', 'method', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  })
  const pool = poolStatsOf(db)
  new Gauge({
    name: 'estars_db_pool_connections_in_use',
    help: 'Database pool connections running a statement or transaction of this replica',
    registers: [registry],
    collect() {
      this.set(Math.min(pool.inFlight, pool.size))
    },
  })
  new Gauge({
    name: 'estars_db_pool_waiting',
    help: 'Statements and transactions of this replica waiting for a free pool connection',
    registers: [registry],
    collect() {
      this.set(Math.max(0, pool.inFlight - pool.size))
    },
  })
  new Gauge({
    name: 'estars_db_pool_size',
    help: 'The most connections this replica opens (DB_POOL_SIZE; 1 for PGlite)',
    registers: [registry],
    collect() {
      this.set(pool.size)
    },
  })
  const queries = new Histogram({
    name: 'estars_db_query_duration_seconds',
    help: 'Database calls outside a transaction and whole transactions, waiting for a connection included',
    labelNames: ['kind', 'outcome'] as const,
    buckets: QUERY_BUCKETS,
    registers: [registry],
  })
  pool.observers.add((kind, seconds, failed) =>
    queries.observe({ kind, outcome: failed ? 'error' : 'ok' }, seconds),
  )
  const gauge = (name: string, help: string, labelNames: string[]) =>
    new Gauge({ name, help, labelNames, registers: [registry] })
  const databaseUp = gauge(
    'estars_database_up',
    'Whether the last metrics snapshot read the database',
    [],
  )
  const snapshotSeconds = gauge(
    'estars_metrics_snapshot_duration_seconds',
    'How long the last metrics snapshot of the database took (a query latency probe)',
    [],
  )
  const relayBacklog = gauge(
    'estars_relay_backlog',
    'Relay updates not forwarded yet; given_up="true": past 24 h of retries',
    ['project', 'given_up'],
  )
  const relayOldest = gauge(
    'estars_relay_oldest_unforwarded_seconds',
    'Age of the oldest relay update not forwarded yet',
    ['project', 'given_up'],
  )
  const findings = gauge(
    'estars_reconciliation_findings',
    'Reconciliation findings by kind; open="true": not resolved by an operator',
    ['project', 'kind', 'open'],
  )
  const ledgerEntries = gauge('estars_ledger_entries', 'Ledger entries by kind', [
    'project',
    'kind',
  ])
  const ledgerAmount = gauge(
    'estars_ledger_credits',
    'Sum of ledger entry amounts by kind (credits; grants positive, consumption negative)',
    ['project', 'kind'],
  )
  const payments = gauge('estars_payments', 'Payments by status (paid, refunded, unmatched)', [
    'project',
    'status',
  ])
  const paymentStars = gauge('estars_payments_stars', 'Stars of payments by status', [
    'project',
    'status',
  ])

  let cached: { at: number; snapshot: Promise<Snapshot> } | null = null
  async function snapshot(): Promise<Snapshot | null> {
    if (!cached || Date.now() - cached.at > SNAPSHOT_TTL_MS) {
      const started = Date.now()
      const reading = readSnapshot(db).finally(() =>
        snapshotSeconds.set((Date.now() - started) / 1000),
      )
      cached = { at: started, snapshot: reading }
      reading.catch(() => {
        cached = null
      })
    }
    let timer: NodeJS.Timeout | undefined
    try {
      return await Promise.race([
        cached.snapshot,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('snapshot timed out')), SNAPSHOT_TIMEOUT_MS)
        }),
      ])
    } catch {
      return null
    } finally {
      clearTimeout(timer)
    }
  }

  async function refreshGauges() {
    const current = await snapshot()
    databaseUp.set(current ? 1 : 0)
    // A failed read keeps the last values rather than report zero charges or an empty backlog.
    if (!current) return
    for (const g of [relayBacklog, relayOldest, findings, ledgerEntries, ledgerAmount]) g.reset()
    payments.reset()
    paymentStars.reset()
    for (const r of current.relay) {
      const labels = { project: r.project_id, given_up: String(r.given_up) }
      relayBacklog.set(labels, r.backlog)
      relayOldest.set(labels, Math.max(0, r.oldest_seconds))
    }
    for (const f of current.findings)
      findings.set({ project: f.project_id, kind: f.kind, open: String(f.open) }, f.count)
    for (const l of current.ledger) {
      ledgerEntries.set({ project: l.project_id, kind: l.kind }, l.count)
      ledgerAmount.set({ project: l.project_id, kind: l.kind }, Number(l.amount))
    }
    for (const p of current.payments) {
      payments.set({ project: p.project_id, status: p.status }, p.count)
      paymentStars.set({ project: p.project_id, status: p.status }, Number(p.stars))
    }
  }

  /** Per-response facts the `finish` handler reads: tRPC errors by procedure. */
  const procedureStatus = new WeakMap<express.Response, Map<string, number>>()

  return {
    observe(req, res, next) {
      const started = process.hrtime.bigint()
      res.once('finish', () => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9
        const { api, routes } = routesOf(req)
        const failed = procedureStatus.get(res)
        for (const route of routes)
          requests.observe(
            {
              api,
              route,
              method: req.method,
              status: String(failed?.get(route) ?? res.statusCode),
            },
            seconds,
          )
      })
      next()
    },
    procedureFailed(res, path, status) {
      if (!path) return
      const name = PROCEDURES.has(path) ? path : 'unknown'
      const failed = procedureStatus.get(res) ?? new Map<string, number>()
      failed.set(name, status)
      procedureStatus.set(res, failed)
    },
    async text() {
      await refreshGauges()
      const merged = Registry.merge([registry, jobRegistry])
      return { contentType: merged.contentType, body: await merged.metrics() }
    },
  }
}

/** Whether a scrape may read `/metrics` on the public port: `Authorization: Bearer <METRICS_TOKEN>`. */
export function metricsTokenMatches(expected: string, header: string | undefined): boolean {
  const presented = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? ''
  const a = Buffer.from(presented)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
