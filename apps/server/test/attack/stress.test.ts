/**
 * Concurrent model-based stress across processes (issue 11, section 3).
 *
 * Several real server processes on one PostgreSQL database, driven over HTTP with the typed
 * client by a seeded plan of mixed calls; every answer is checked against a model of what the
 * acknowledged calls must have done, and afterwards the database against the model and itself.
 *
 * Knobs (defaults sized for CI, ~1–2 min on 2 cores):
 *   STRESS_OPS=6000  STRESS_SEED=<random>  STRESS_PROCESSES=3  STRESS_CONCURRENCY=8×processes
 *   STRESS_HOT=3  STRESS_CUSTOMERS=9 (cold ones)  STRESS_FOCUSED_OPS=2000  STRESS_BURST_KEYS=30
 *   STRESS_FOCUSED_WEIGHTS=consume:30,reserve:25,settle:20,release:10,grant:8,race:2  STRESS_POOL_SIZE=6
 *   STRESS_PG_LOG=<path of PostgreSQL's log, found by itself on Debian>
 * Soak: STRESS_OPS=100000 npx vitest run test/attack/stress.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Cluster,
  envInt,
  skipNotice,
  sleep,
  startCluster,
  testDatabaseUrl,
} from './processes.ts'
import { type OpKind, STRESS_WEIGHTS, Workload, type WorkloadOptions } from './workload.ts'

const processes = Math.max(1, envInt('STRESS_PROCESSES', 3))
const ops = envInt('STRESS_OPS', 6000)
const focusedOps = envInt('STRESS_FOCUSED_OPS', 2000)
const burstKeys = envInt('STRESS_BURST_KEYS', 30)
const seed = envInt('STRESS_SEED', Math.floor(Math.random() * 2 ** 31))
const concurrency = Math.max(1, envInt('STRESS_CONCURRENCY', 8 * processes))
const hotCustomers = envInt('STRESS_HOT', 3)
/** The hot-customer test's mix; STRESS_FOCUSED_WEIGHTS="consume:30,grant:8" narrows a failure down. */
const focusedWeights: Partial<Record<OpKind, number>> = process.env.STRESS_FOCUSED_WEIGHTS
  ? Object.fromEntries(
      process.env.STRESS_FOCUSED_WEIGHTS.split(',').map((pair) => {
        const [kind, weight] = pair.split(':')
        return [kind!.trim(), Number(weight ?? 1)]
      }),
    )
  : { consume: 30, reserve: 25, settle: 20, release: 10, grant: 8, race: 2 }
const coldCustomers = envInt('STRESS_CUSTOMERS', 9)

if (!testDatabaseUrl) console.warn(skipNotice('attack: stress suite'))

describe.runIf(process.env.CI === 'true' && !testDatabaseUrl)('attack: stress under CI', () => {
  it('has TEST_DATABASE_URL', () => {
    expect.fail('CI=true but TEST_DATABASE_URL is not set: the attack suites would not run')
  })
})

describe.skipIf(!testDatabaseUrl)(`attack: ${processes} server processes, one database`, () => {
  let cluster: Cluster
  beforeAll(async () => {
    console.log(`attack stress: seed ${seed} (rerun with STRESS_SEED=${seed})`)
    cluster = await startCluster({ processes })
  }, 240_000)
  afterAll(() => cluster?.close(), 60_000)

  async function runWorkload(name: string, options: Omit<WorkloadOptions, 'processes'>) {
    const started = Date.now()
    const errorsBefore = cluster.serverErrors.length
    const tenant = await cluster.tenant(name.replace(/\W+/g, '-'))
    const w = new Workload(cluster, tenant, { processes, ...options })
    await w.fundAll()
    await w.run(
      options.ops >= 20_000
        ? (done) => {
            const s = (Date.now() - started) / 1000
            console.log(
              `  ${name}: ${done}/${options.ops} ops, ${w.stats.calls} calls, ${(w.stats.calls / s).toFixed(0)} calls/s, ${w.failures.length} failures`,
            )
          }
        : undefined,
    )
    // Short holds and reservations expire; the expiry job (every second, every process) sweeps.
    await sleep(5000)
    await w.verify()
    const logs = w.checkLogs()
    const seconds = (Date.now() - started) / 1000
    const wire5xx = cluster.serverErrors.slice(errorsBefore)
    for (const e of wire5xx.slice(0, 10))
      w.fail('5xx on the wire', `${e.process} ${e.status} ${e.path}: ${e.body}`)
    const overspend =
      (w.failureCounts.get('PostgreSQL: constraint violated') ?? 0) +
      (w.failureCounts.get('negative balance in an answer') ?? 0) +
      (w.failureCounts.get('negative or available with debt') ?? 0)
    console.log(
      [
        `${name} (seed ${options.seed}): ${processes} processes, ${options.ops} ops, ${w.stats.calls} calls in ${seconds.toFixed(1)} s`,
        `  answers: ${w.stats.ok} ok, ${w.stats.refused} refused, ${w.stats.conflict} conflict (${w.stats.gaveUp} CONCURRENT_UPDATE), ${w.stats.server} 5xx, ${w.stats.transport} unanswered, ${w.stats.other} other`,
        `  checked: ${w.acked.size} acknowledged keys, ${w.stats.replaysChecked} replays, ${w.stats.conflictsChecked} conflicts, ${w.stats.bursts} one-key bursts, ${w.stats.races} settle/release races, ${w.payments.length} payments`,
        `  PostgreSQL log (${logs.pgLog ?? 'not readable: only the API answers were checked'}): ${logs.pgErrors} error lines, ${logs.deadlocks} deadlocks, ${logs.serialization} serialization failures`,
        `  => ${processes} processes, ${options.ops} ops, ${overspend} overspend, ${w.stats.server} 5xx, ${w.failures.length ? `${[...w.failureCounts.values()].reduce((a, b) => a + b, 0)} failures` : 'no failures'}`,
      ].join('\n'),
    )
    if (w.failures.length) console.error(w.report())
    expect(
      Object.fromEntries(w.failureCounts),
      `seed ${options.seed}: see the report above`,
    ).toEqual({})
  }

  it('a hold that comes back after a refund put its customer in debt repays the debt first', async () => {
    // Found by the mixed stress (seed 149557673): available and debt both above zero.
    const tenant = await cluster.tenant('debt-and-hold')
    const [a, b, c] = [tenant.client(0), tenant.client(1 % processes), tenant.client(2 % processes)]
    const user = 7_300_001
    const key = (k: string) => `debt-${seed}-${k}`
    const both: string[] = []
    const look = <R extends { available: number; held: number; debt: number }>(
      step: string,
      r: R,
    ) => {
      if (r.available > 0 && r.debt > 0) both.push(`${step}: ${JSON.stringify(r)}`)
      return r
    }
    look(
      'grant',
      await a.credits.grant.mutate({
        telegramUserId: user,
        amount: 100,
        reason: 'promo',
        idempotencyKey: key('g'),
      }),
    )
    const invoice = await b.invoices.create.mutate({ telegramUserId: user, productKey: 'pack_s' })
    const payment = {
      currency: 'XTR',
      total_amount: invoice.priceStars,
      invoice_payload: invoice.payload,
      telegram_payment_charge_id: `stxDEBT${seed}`,
    }
    const from = { id: user, first_name: 'Debtor' }
    look('pay', await b.payments.record.mutate({ successfulPayment: payment, from }))
    // The hold takes the oldest lot (the promo's 100, burn order); the consume spends the pack.
    const hold = look(
      'reserve',
      await c.usage.reserve.mutate({
        telegramUserId: user,
        amount: 80,
        reason: 'AI answer',
        idempotencyKey: key('r'),
      }),
    )
    look(
      'consume',
      await a.usage.consume.mutate({
        telegramUserId: user,
        amount: 500,
        reason: 'video',
        idempotencyKey: key('c'),
      }),
    )
    // Refunded after 480 of its 500 were spent, while the promo's credits sit in the hold.
    look('refund', await b.payments.recordRefund.mutate({ refundedPayment: payment, from }))
    look('release', await c.usage.release.mutate({ holdId: hold.holdId, idempotencyKey: key('x') }))
    const balance = look('balance', await a.credits.balance.query({ telegramUserId: user }))
    // 100 + 500 − 500 spent − 500 refunded: whatever the order, the customer owes 400.
    expect(balance.available + balance.held - balance.debt).toBe(-400)
    expect(both, 'README: "Available and debt are never both above zero"').toEqual([])
  })

  it('one hot customer whose demand exceeds the balance: consume, reserve, settle, release mixed', async () => {
    await runWorkload('hot customer', {
      seed: seed ^ 0x1,
      ops: focusedOps,
      concurrency,
      hotCustomers: 1,
      coldCustomers: 0,
      weights: focusedWeights,
    })
  }, 600_000)

  it('one idempotency key sent at once as consume ×5 and reserve ×1 across the processes', async () => {
    await runWorkload('one key, six calls', {
      seed: seed ^ 0x2,
      ops: burstKeys,
      concurrency: Math.min(concurrency, 5),
      hotCustomers: 1,
      coldCustomers: 2,
      weights: { burst: 1 },
    })
  }, 300_000)

  it(
    'random mixed operations on hot and cold customers, every answer against the model',
    async () => {
      await runWorkload('mixed stress', {
        seed,
        ops,
        concurrency,
        hotCustomers,
        coldCustomers,
        weights: STRESS_WEIGHTS,
      })
    },
    Math.max(600_000, ops * 30),
  )
})
