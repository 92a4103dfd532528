import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createEStarsClient } from '@e-stars/api/client'
import { createApiKey } from '@e-stars/billing'
import type { Database } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { jobMetrics, proceduresOf, restRouteOf } from '../src/metrics.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const silent = { info() {}, warn() {}, error() {} }
const METRICS_TOKEN = 'metrics-test-token-not-a-real-one'
const CUSTOMER = 5_000_000_777
let server: RunningServer
let database: Database
let projectId: string
let apiKey: string

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/**
 * Prometheus text exposition format 0.0.4, strictly: every line is a HELP or TYPE comment or a
 * sample `name{label="value",…} number`; anything else throws.
 */
function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line)
    if (comment) {
      if (comment[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(comment[3])
        types.set(comment[2]!, comment[3]!)
      }
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$/.exec(
      line,
    )
    if (!sample) throw new Error(`not Prometheus text: ${line}`)
    const labels: Record<string, string> = {}
    for (const pair of (sample[2] ?? '').matchAll(
      /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g,
    ))
      labels[pair[1]!] = pair[2]!
    samples.push({ name: sample[1]!, labels, value: Number(sample[3]) })
  }
  return { samples, types }
}

async function scrape(url = `${server.url}/metrics`, token: string | null = METRICS_TOKEN) {
  const response = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parsePrometheus(await response.text())
}

function value(samples: Sample[], name: string, labels: Record<string, string>): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )
  return found.reduce((sum, s) => sum + s.value, 0)
}

beforeAll(async () => {
  database = await createTestDatabase()
  server = await startServer(
    parseEnv({
      PORT: '0',
      METRICS_TOKEN,
      METRICS_PORT: '0',
      EXPIRY_INTERVAL_SECONDS: '1',
      RELAY_FORWARD_INTERVAL_MS: '100',
      RECONCILE_INTERVAL_SECONDS: '0',
    }),
    silent,
    { database },
  )
  projectId = server.demoProjectId!
  apiKey = (await createApiKey(database.db, { projectId, name: 'metrics' })).key
  // What the scrape-time gauges read, written before the first scrape (they are cached 10 s).
  const client = createEStarsClient({ url: server.url, apiKey })
  await client.customers.upsert.mutate({ telegramUserId: CUSTOMER })
  await client.credits.grant.mutate({
    telegramUserId: CUSTOMER,
    amount: 500,
    reason: 'Pack M',
    idempotencyKey: randomUUID(),
  })
  await client.usage.consume.mutate({
    telegramUserId: CUSTOMER,
    amount: 120,
    reason: 'AI answer',
    idempotencyKey: randomUUID(),
  })
  // An update the bot has not taken for two minutes, not due again soon (the forwarder leaves it).
  await database.db.execute(sql`
    insert into relay_updates (project_id, update_id, payload, received_at, next_attempt_at)
    values (${projectId}, 41, '{}'::jsonb, now() - interval '120 seconds', now() + interval '1 hour')`)
  await database.db.execute(sql`
    insert into reconciliation_findings (project_id, run_id, kind, action, details)
    values (${projectId}, ${randomUUID()}, 'missing_payment', 'flagged', '{}'::jsonb)`)
})
afterAll(() => server?.close())

describe('/metrics on the public port', () => {
  it('refuses to start with a bad METRICS_PORT or a short METRICS_TOKEN, naming the setting', () => {
    expect(() => parseEnv({ METRICS_PORT: 'x' })).toThrow(/METRICS_PORT: must be a port number/)
    expect(() => parseEnv({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: at least 16/)
    expect(parseEnv({ METRICS_PORT: '' }).METRICS_PORT).toBeUndefined()
  })

  it('answers 401 without the token or with another one, and names no metric', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-of-some-length' },
    ]
    for (const headers of attempts) {
      const response = await fetch(`${server.url}/metrics`, { headers })
      expect(response.status).toBe(401)
      expect(await response.text()).not.toMatch(/estars_/)
    }
  })

  it('is not served without METRICS_TOKEN; METRICS_PORT alone serves it with no token', async () => {
    const other = await startServer(parseEnv({ PORT: '0', METRICS_PORT: '0' }), silent, {
      database: await createTestDatabase(),
    })
    try {
      // Whatever answers there (a 404, or the console's page when it is built), never the metrics.
      expect(await (await fetch(`${other.url}/metrics`)).text()).not.toMatch(/estars_/)
      const { samples } = await scrape(other.metricsUrl!, null)
      expect(value(samples, 'estars_database_up', {})).toBe(1)
    } finally {
      await other.close()
    }
  })
})

describe('the metrics', () => {
  it('parse as Prometheus text and move with real traffic, per procedure and status', async () => {
    const before = (await scrape()).samples
    const client = createEStarsClient({ url: server.url, apiKey })
    await client.customers.upsert.mutate({ telegramUserId: CUSTOMER })
    await client.customers.upsert.mutate({ telegramUserId: CUSTOMER })
    await expect(
      client.usage.consume.mutate({
        telegramUserId: CUSTOMER,
        amount: 1_000_000,
        reason: 'too much',
        idempotencyKey: randomUUID(),
      }),
    ).rejects.toThrow()
    await fetch(`${server.url}/trpc/no.such.procedure`)
    const { samples, types } = await scrape()
    expect(types.get('estars_http_request_duration_seconds')).toBe('histogram')
    const count = (list: Sample[], labels: Record<string, string>) =>
      value(list, 'estars_http_request_duration_seconds_count', { api: 'trpc', ...labels })
    expect(
      count(samples, { route: 'customers.upsert', status: '200' }) -
        count(before, { route: 'customers.upsert', status: '200' }),
    ).toBe(2)
    const refused = samples.filter(
      (s) =>
        s.name === 'estars_http_request_duration_seconds_count' &&
        s.labels.route === 'usage.consume' &&
        s.labels.status !== '200',
    )
    expect(refused.reduce((sum, s) => sum + s.value, 0)).toBe(1)
    expect(Number(refused[0]!.labels.status)).toBeGreaterThanOrEqual(400)
    // A made-up procedure is counted, under one bounded name.
    expect(count(samples, { route: 'unknown' })).toBeGreaterThanOrEqual(1)
    expect(samples.some((s) => s.labels.route === 'no.such.procedure')).toBe(false)
  })

  it('read the ledger, payments, findings and the relay inbox by project, never by customer', async () => {
    const { samples } = await scrape()
    const project = { project: projectId }
    expect(value(samples, 'estars_ledger_entries', { ...project, kind: 'grant' })).toBe(1)
    expect(value(samples, 'estars_ledger_credits', { ...project, kind: 'grant' })).toBe(500)
    expect(value(samples, 'estars_ledger_credits', { ...project, kind: 'consume' })).toBe(-120)
    expect(value(samples, 'estars_relay_backlog', { ...project, given_up: 'false' })).toBe(1)
    expect(
      value(samples, 'estars_relay_oldest_unforwarded_seconds', { ...project, given_up: 'false' }),
    ).toBeGreaterThanOrEqual(119)
    expect(
      value(samples, 'estars_reconciliation_findings', {
        ...project,
        kind: 'missing_payment',
        open: 'true',
      }),
    ).toBe(1)
    expect(value(samples, 'estars_database_up', {})).toBe(1)
    const customerIds = new Set([String(CUSTOMER)])
    for (const s of samples)
      for (const label of Object.values(s.labels)) expect(customerIds.has(label)).toBe(false)
  })

  it('count background job runs and their last success', async () => {
    await new Promise((r) => setTimeout(r, 1300))
    const { samples } = await scrape()
    for (const job of ['expiry', 'relay-forward']) {
      expect(
        value(samples, 'estars_job_runs_total', { job, outcome: 'success' }),
      ).toBeGreaterThanOrEqual(1)
      const last = value(samples, 'estars_job_last_success_timestamp_seconds', { job })
      expect(Date.now() / 1000 - last).toBeLessThan(5)
    }
  })

  it('count a failed job run as a failure, and pass the error on', async () => {
    const failures = () =>
      scrape().then(({ samples }) =>
        value(samples, 'estars_job_runs_total', { job: 'sessions', outcome: 'failure' }),
      )
    const before = await failures()
    await expect(
      jobMetrics.track('sessions', () => Promise.reject(new Error('no database'))),
    ).rejects.toThrow('no database')
    expect(await failures()).toBe(before + 1)
  })

  it('are served on METRICS_PORT too (with the token when one is set), and nothing else is', async () => {
    expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    expect((await fetch(server.metricsUrl!)).status).toBe(401)
    const { samples } = await scrape(server.metricsUrl!)
    expect(value(samples, 'estars_database_up', {})).toBe(1)
    const origin = new URL(server.metricsUrl!).origin
    expect((await fetch(`${origin}/trpc/customers.upsert`)).status).toBe(404)
  })

  it('name procedures and REST routes by bounded names', () => {
    expect(proceduresOf('/customers.upsert,usage.consume')).toEqual([
      'customers.upsert',
      'usage.consume',
    ])
    expect(proceduresOf('/%E2%80%AE,x'.repeat(3))).toEqual([
      'unknown',
      'unknown',
      'unknown',
      'unknown',
    ])
    expect(restRouteOf('/api/v1/not/a/route/at/all')).toBeNull()
    expect(restRouteOf('/api/v1/customers/5000000777/balance')).toBe(
      '/api/v1/customers/{telegramUserId}/balance',
    )
    expect(restRouteOf('/api/v1/customers')).toBe('/api/v1/customers')
  })

  it('label a REST call by its route template, never by the customer in its path', async () => {
    const call = () =>
      fetch(`${server.url}/api/v1/customers/${CUSTOMER}/balance`, {
        headers: { authorization: `Bearer ${apiKey}` },
      })
    expect((await call()).status).toBe(200)
    const { samples } = await scrape()
    expect(
      value(samples, 'estars_http_request_duration_seconds_count', {
        api: 'rest',
        route: '/api/v1/customers/{telegramUserId}/balance',
        status: '200',
      }),
    ).toBe(1)
    expect(
      samples.some((s) => Object.values(s.labels).some((v) => v.includes(String(CUSTOMER)))),
    ).toBe(false)
  })
})

describe('deploy/prometheus/alerts.yml', () => {
  const file = new URL('../../../deploy/prometheus/alerts.yml', import.meta.url)
  // JSON is YAML: Prometheus reads the file as it is, and this test parses it without a YAML library.
  const rules = (
    JSON.parse(readFileSync(file, 'utf8')) as {
      groups: { name: string; rules: { alert: string; expr: string; for?: string }[] }[]
    }
  ).groups.flatMap((group) => group.rules)

  it('has the alerts the operator guide promises', () => {
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'EStarsHighErrorRate',
        'EStarsSlowRequests',
        'EStarsJobStale',
        'EStarsRelayBacklog',
        'EStarsUnreconciledCharges',
      ]),
    )
    for (const rule of rules) {
      expect(rule.expr.length).toBeGreaterThan(0)
      if (rule.for) expect(rule.for).toMatch(/^\d+[smh]$/)
    }
  })

  it('uses only metrics the server exports', async () => {
    const { types } = await scrape()
    const exported = new Set<string>()
    for (const [name, type] of types) {
      exported.add(name)
      if (type === 'histogram')
        for (const s of ['_bucket', '_sum', '_count']) exported.add(name + s)
    }
    for (const rule of rules)
      for (const [name] of rule.expr.matchAll(/\bestars_[a-z_]+/g))
        expect(exported, `${rule.alert} uses ${name}`).toContain(name)
  })
})
