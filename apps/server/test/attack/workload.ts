/**
 * The model-based workload the attack suites drive over HTTP: a seeded plan of mixed billing
 * calls, sent by many lanes at once to several server processes, every answer checked against a
 * model of what the acknowledged calls must have done, and afterwards the database checked
 * against the model and against itself (cache = ledger = lots + holds).
 */
import { isDeepStrictEqual } from 'node:util'
import type { EStarsClient, RouterInputs } from '@e-stars/api/client'
import { verifyLedger } from '@e-stars/billing'
import { TRPCClientError } from '@trpc/client'
import { sql } from 'drizzle-orm'
import { type Cluster, type LogMark, prng, query, sleep, type Tenant } from './processes.ts'

export type Json = Record<string, unknown>

export type Path =
  | 'credits.grant'
  | 'credits.balance'
  | 'usage.consume'
  | 'usage.reserve'
  | 'usage.settle'
  | 'usage.release'
  | 'usage.consumeFeature'
  | 'usage.reserveFeature'
  | 'usage.settleFeature'
  | 'usage.releaseFeature'
  | 'invoices.create'
  | 'payments.record'
  | 'payments.recordRefund'

type In = RouterInputs

async function callProcedure(client: EStarsClient, path: Path, input: unknown): Promise<unknown> {
  switch (path) {
    case 'credits.grant':
      return client.credits.grant.mutate(input as In['credits']['grant'])
    case 'credits.balance':
      return client.credits.balance.query(input as In['credits']['balance'])
    case 'usage.consume':
      return client.usage.consume.mutate(input as In['usage']['consume'])
    case 'usage.reserve':
      return client.usage.reserve.mutate(input as In['usage']['reserve'])
    case 'usage.settle':
      return client.usage.settle.mutate(input as In['usage']['settle'])
    case 'usage.release':
      return client.usage.release.mutate(input as In['usage']['release'])
    case 'usage.consumeFeature':
      return client.usage.consumeFeature.mutate(input as In['usage']['consumeFeature'])
    case 'usage.reserveFeature':
      return client.usage.reserveFeature.mutate(input as In['usage']['reserveFeature'])
    case 'usage.settleFeature':
      return client.usage.settleFeature.mutate(input as In['usage']['settleFeature'])
    case 'usage.releaseFeature':
      return client.usage.releaseFeature.mutate(input as In['usage']['releaseFeature'])
    case 'invoices.create':
      return client.invoices.create.mutate(input as In['invoices']['create'])
    case 'payments.record':
      return client.payments.record.mutate(input as In['payments']['record'])
    case 'payments.recordRefund':
      return client.payments.recordRefund.mutate(input as In['payments']['recordRefund'])
  }
}

export type Outcome = 'ok' | 'refused' | 'conflict' | 'server' | 'transport' | 'other'

export interface Answer {
  outcome: Outcome
  result?: Json
  /** tRPC code (PRECONDITION_FAILED, CONFLICT, INTERNAL_SERVER_ERROR…). */
  code?: string
  /** The domain code in `error.data.billing.code` (INSUFFICIENT_CREDITS, HOLD_NOT_ACTIVE…). */
  billing?: string
  status?: number
  message?: string
  /** Process that gave the final answer. */
  process: number
  /** Processes tried before it (crash mode: unacknowledged calls retried elsewhere). */
  failedOn: number[]
}

export type Role = 'first' | 'replay' | 'conflict' | 'burst' | 'race' | 'dup' | 'read'

export interface CallRecord {
  seq: number
  op: number
  path: Path
  input: Json
  key: string | null
  customer: number
  role: Role
  answer: Answer
  startedAt: number
  endedAt: number
}

interface HoldModel {
  holdId: string
  customer: number
  amount: number
  expiresAt: number
  createdAt: number
  state: 'open' | 'closing' | 'closed'
}

interface ReservationModel {
  reservationId: string
  customer: number
  quantity: number
  credits: number
  expiresAt: number
  createdAt: number
  state: 'open' | 'closing' | 'closed'
}

interface PaymentModel {
  chargeId: string
  customer: number
  payload: string
  stars: number
  credits: number
  paymentId: number
  /** `unknown`: a refund that got no answer (a 5xx); the database decides. */
  state: 'paid' | 'refunding' | 'refunded' | 'unknown'
}

interface CustomerModel {
  id: number
  hot: boolean
  /** Σ effects on available + held − debt of every acknowledged call. */
  net: number
  /** Last time a refund for this customer was sent or answered (a refund may shrink or close its holds). */
  refundSentAt: number
  /** Refunds of this customer's payments in flight now (one retried after a kill may land late). */
  refundsInFlight: number
}

export interface Failure {
  kind: string
  detail: string
}

export type OpKind =
  | 'grant'
  | 'consume'
  | 'reserve'
  | 'settle'
  | 'release'
  | 'race'
  | 'consumeFeature'
  | 'reserveFeature'
  | 'settleFeature'
  | 'releaseFeature'
  | 'payment'
  | 'refund'
  | 'replay'
  | 'conflict'
  | 'burst'
  | 'balance'

export interface PlanOp {
  i: number
  kind: OpKind
  proc: number
  customer: number
  /** Random draws for amounts and dynamic choices, fixed by the seed. */
  a: number
  b: number
  c: number
}

export interface WorkloadOptions {
  seed: number
  ops: number
  processes: number
  concurrency: number
  hotCustomers: number
  coldCustomers: number
  /** Crash mode: a call that got no HTTP answer is retried with the same input on another process. */
  retryUnanswered?: boolean
  /** Which operations and how often (relative weights). */
  weights: Partial<Record<OpKind, number>>
}

export const STRESS_WEIGHTS: Partial<Record<OpKind, number>> = {
  grant: 9,
  consume: 22,
  reserve: 13,
  settle: 11,
  release: 5,
  race: 1.5,
  consumeFeature: 6,
  reserveFeature: 3,
  settleFeature: 2,
  releaseFeature: 1,
  payment: 3,
  refund: 1.5,
  replay: 6,
  conflict: 3,
  burst: 2,
  balance: 2,
}

const HOT_BASE = 7_100_000
const COLD_BASE = 7_200_000
const FAILURE_DETAILS_PER_KIND = 25

/** What a tRPC client error says, classified. */
function classify(error: unknown, process: number): Answer {
  if (error instanceof TRPCClientError) {
    const data = error.data as
      | { code?: string; httpStatus?: number; billing?: { code?: string } | null }
      | undefined
    if (data?.httpStatus) {
      const status = data.httpStatus
      const outcome: Outcome =
        status >= 500
          ? 'server'
          : data.code === 'PRECONDITION_FAILED'
            ? 'refused'
            : data.code === 'CONFLICT'
              ? 'conflict'
              : 'other'
      return {
        outcome,
        code: data.code,
        billing: data.billing?.code,
        status,
        message: error.message,
        process,
        failedOn: [],
      }
    }
    if (isConnectionError(error))
      return { outcome: 'transport', message: describeCause(error), process, failedOn: [] }
    // An answer that is not tRPC's JSON (a proxy page, a truncated body…).
    return { outcome: 'other', message: describeCause(error), process, failedOn: [] }
  }
  return { outcome: 'other', message: String(error), process, failedOn: [] }
}

function describeCause(error: unknown): string {
  const parts: string[] = []
  let e: unknown = error
  for (let depth = 0; e && depth < 5; depth++) {
    const err = e as { message?: string; code?: string; cause?: unknown }
    parts.push(`${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`)
    e = err.cause
  }
  return parts.join(' <- ')
}

function isConnectionError(error: unknown): boolean {
  const text = describeCause(error)
  return /fetch failed|ECONNREFUSED|ECONNRESET|EPIPE|UND_ERR_SOCKET|other side closed|socket hang up|terminated|aborted|timeout/i.test(
    text,
  )
}

const n = (value: unknown) => Number(value)

export class Workload {
  readonly records: CallRecord[] = []
  readonly failures: Failure[] = []
  readonly failureCounts = new Map<string, number>()
  readonly customers = new Map<number, CustomerModel>()
  /** The first acknowledged answer per idempotency key. */
  readonly acked = new Map<string, CallRecord>()
  /** Every key sent, acknowledged or not. */
  readonly keysSent = new Set<string>()
  holds: HoldModel[] = []
  reservations: ReservationModel[] = []
  /** The first record per idempotency key. */
  readonly recordByKey = new Map<string, CallRecord>()
  readonly payments: PaymentModel[] = []
  /** Payments none of whose deliveries was answered (each a failure already). */
  readonly unresolvedCharges: Array<{ chargeId: string; customer: number }> = []
  private readonly unresolvedCredits = { paid: 0, refunded: 0 }
  readonly stats = {
    calls: 0,
    ok: 0,
    refused: 0,
    conflict: 0,
    server: 0,
    transport: 0,
    other: 0,
    retried: 0,
    replaysChecked: 0,
    conflictsChecked: 0,
    bursts: 0,
    races: 0,
    /** CONFLICT CONCURRENT_UPDATE answers (the engine's retries ran out). */
    gaveUp: 0,
  }
  private seq = 0
  private cursor = 0
  /** Set while a process is down (crash mode): lanes avoid it. */
  readonly down = new Set<number>()
  /** Calls in flight per process right now. */
  readonly inflight: number[]

  /** Where the logs ended when this workload began: only what it caused is judged. */
  readonly mark: LogMark

  constructor(
    readonly cluster: Cluster,
    readonly tenant: Tenant,
    readonly options: WorkloadOptions,
  ) {
    this.mark = cluster.logMark()
    this.inflight = Array.from({ length: options.processes }, () => 0)
    for (let h = 0; h < options.hotCustomers; h++)
      this.customers.set(HOT_BASE + h, {
        id: HOT_BASE + h,
        hot: true,
        net: 0,
        refundSentAt: 0,
        refundsInFlight: 0,
      })
    for (let c = 0; c < options.coldCustomers; c++)
      this.customers.set(COLD_BASE + c, {
        id: COLD_BASE + c,
        hot: false,
        net: 0,
        refundSentAt: 0,
        refundsInFlight: 0,
      })
    this.makePlan()
  }

  /**
   * The plan is drawn op by op from the seed, in order (lanes take the next one in turn), so a
   * seed always gives the same operations, customers, amounts, keys and target processes.
   */
  private makePlan() {
    const rng = prng(this.options.seed)
    const kinds = Object.entries(this.options.weights).filter(([, w]) => (w ?? 0) > 0) as Array<
      [OpKind, number]
    >
    const totalWeight = kinds.reduce((s, [, w]) => s + w, 0)
    const ids = [...this.customers.keys()]
    const hot = ids.filter((id) => this.customers.get(id)!.hot)
    const cold = ids.filter((id) => !this.customers.get(id)!.hot)
    this.draw = (i) => {
      let r = rng.next() * totalWeight
      let kind = kinds[0]![0]
      for (const [k, w] of kinds) {
        r -= w
        if (r < 0) {
          kind = k
          break
        }
      }
      // Half of all traffic goes to the few hot customers.
      const customer =
        hot.length && (rng.chance(0.5) || !cold.length) ? rng.pick(hot) : rng.pick(cold)
      return {
        i,
        kind,
        proc: rng.int(0, this.options.processes - 1),
        customer,
        a: rng.next(),
        b: rng.next(),
        c: rng.next(),
      }
    }
  }
  private draw: (i: number) => PlanOp = () => {
    throw new Error('no plan')
  }

  key(op: PlanOp, suffix = ''): string {
    return `atk-${this.options.seed}-${op.i}${suffix}`
  }

  fail(kind: string, detail: string) {
    const count = (this.failureCounts.get(kind) ?? 0) + 1
    this.failureCounts.set(kind, count)
    if (count <= FAILURE_DETAILS_PER_KIND) this.failures.push({ kind, detail })
    // The first of each kind at once: a long soak shows what it found while it runs.
    if (count === 1) console.error(`attack: first "${kind}": ${detail.slice(0, 2000)}`)
  }

  /** A live process other than `avoid` (crash mode), or `preferred` when it is up. */
  private route(preferred: number, avoid: number[] = []): number {
    const count = this.options.processes
    if (!this.down.has(preferred) && !avoid.includes(preferred)) return preferred
    for (let k = 1; k <= count; k++) {
      const candidate = (preferred + k) % count
      if (!this.down.has(candidate) && !avoid.includes(candidate)) return candidate
    }
    for (let k = 1; k <= count; k++) {
      const candidate = (preferred + k) % count
      if (!this.down.has(candidate)) return candidate
    }
    return preferred
  }

  /** Sends one call; in crash mode an unanswered call is retried elsewhere with the same input. */
  async send(
    path: Path,
    input: Json,
    options: { proc: number; role: Role; customer: number; op: number },
  ): Promise<CallRecord> {
    const key = typeof input.idempotencyKey === 'string' ? input.idempotencyKey : null
    if (key && options.role !== 'conflict') this.keysSent.add(key)
    const startedAt = Date.now()
    const failedOn: number[] = []
    let proc = this.route(options.proc)
    let answer: Answer
    for (let attempt = 0; ; attempt++) {
      this.inflight[proc]!++
      try {
        const result = (await callProcedure(this.tenant.client(proc), path, input)) as Json
        answer = { outcome: 'ok', result, process: proc, failedOn }
      } catch (error) {
        answer = { ...classify(error, proc), failedOn }
      } finally {
        this.inflight[proc]!--
      }
      if (answer.outcome !== 'transport' || !this.options.retryUnanswered || attempt >= 200) break
      // No answer: the process died under the call. Same key, same input, another process.
      failedOn.push(proc)
      this.stats.retried++
      await sleep(Math.min(50 * (attempt + 1), 1000))
      proc = this.route((proc + 1) % this.options.processes, [proc])
    }
    this.stats.calls++
    this.stats[answer.outcome]++
    const record: CallRecord = {
      seq: this.seq++,
      op: options.op,
      path,
      input,
      key,
      customer: options.customer,
      role: options.role,
      answer,
      startedAt,
      endedAt: Date.now(),
    }
    this.records.push(record)
    if (key && !this.recordByKey.has(key) && options.role !== 'conflict')
      this.recordByKey.set(key, record)
    if (answer.outcome === 'server')
      this.fail('5xx', `${describe(record)} (seed ${this.options.seed})`)
    else if (answer.outcome === 'transport')
      this.fail('no answer', `${describe(record)} (seed ${this.options.seed})`)
    return record
  }

  /** Runs the whole plan with `concurrency` lanes. `onProgress` is called every 500 operations. */
  async run(onProgress?: (done: number) => void | Promise<void>) {
    const lanes = Array.from({ length: this.options.concurrency }, async () => {
      while (this.cursor < this.options.ops) {
        const op = this.draw(this.cursor++)
        await this.execute(op)
        if (op.i % 500 === 499) await onProgress?.(op.i + 1)
      }
    })
    await Promise.all(lanes)
  }

  /** Lanes finish the operation they are on and stop. */
  stop() {
    this.cursor = this.options.ops
  }

  /** Funds every customer once, before the load (hot ones a little, the others plenty). */
  async fundAll() {
    await Promise.all(
      [...this.customers.values()].map((c, k) =>
        this.grant(
          {
            i: -1 - k,
            kind: 'grant',
            proc: k % this.options.processes,
            customer: c.id,
            a: 0,
            b: 1,
            c: 1,
          },
          c.hot ? 60 : 3000,
        ),
      ),
    )
  }

  private expect(record: CallRecord, allowed: Array<Outcome | `${Outcome}:${string}`>) {
    const a = record.answer
    if (a.outcome === 'server' || a.outcome === 'transport') return false
    // The engine gave up after its own retries of deadlocks / serialization failures: a typed,
    // retryable CONFLICT that wrote nothing (checked with the other unacknowledged keys). Counted.
    if (a.outcome === 'conflict' && a.billing === 'CONCURRENT_UPDATE') {
      this.stats.gaveUp++
      return false
    }
    const ok =
      allowed.includes(a.outcome) ||
      allowed.includes(`${a.outcome}:${a.billing ?? a.code ?? ''}` as `${Outcome}:${string}`)
    if (!ok) this.fail('unexpected answer', describe(record))
    return ok && a.outcome === 'ok'
  }

  private checkBalanceFacts(record: CallRecord, result: Json) {
    const available = n(result.available)
    const held = n(result.held)
    const debt = n(result.debt)
    if (!(available >= 0 && held >= 0 && debt >= 0))
      this.fail('negative balance in an answer', describe(record))
    if (available > 0 && debt > 0) this.fail('available and debt both > 0', describe(record))
  }

  private acknowledge(record: CallRecord, effect: number) {
    const customer = this.customers.get(record.customer)!
    customer.net += effect
    if (record.key && !this.acked.has(record.key)) this.acked.set(record.key, record)
  }

  async execute(op: PlanOp): Promise<void> {
    switch (op.kind) {
      case 'grant':
        return this.grant(op)
      case 'consume':
        return this.consume(op)
      case 'reserve':
        return this.reserve(op)
      case 'settle':
        return this.settleOrRelease(op, 'settle')
      case 'release':
        return this.settleOrRelease(op, 'release')
      case 'race':
        return this.race(op)
      case 'consumeFeature':
        return this.consumeFeature(op)
      case 'reserveFeature':
        return this.reserveFeature(op)
      case 'settleFeature':
        return this.closeReservation(op, 'settle')
      case 'releaseFeature':
        return this.closeReservation(op, 'release')
      case 'payment':
        return this.payment(op)
      case 'refund':
        return this.refund(op)
      case 'replay':
        return this.replay(op)
      case 'conflict':
        return this.conflict(op)
      case 'burst':
        return this.burst(op)
      case 'balance':
        return this.balance(op)
    }
  }

  private hot(op: PlanOp) {
    return this.customers.get(op.customer)!.hot
  }

  async grant(op: PlanOp, fixed?: number) {
    const amount = fixed ?? (this.hot(op) ? 1 + Math.floor(op.a * 15) : 50 + Math.floor(op.a * 350))
    const input: Json = {
      telegramUserId: op.customer,
      amount,
      reason: 'attack grant',
      source: op.b < 0.5 ? 'promo' : 'manual',
      idempotencyKey: this.key(op),
    }
    // Some lots expire (far beyond the run) and have priorities: the burn order has choices.
    if (op.c < 0.25) {
      input.expiresAt = new Date(
        Date.now() + 2 * 3_600_000 + Math.floor(op.b * 3_600_000),
      ).toISOString()
      input.priority = Math.floor(op.b * 11) - 5
    }
    const record = await this.send('credits.grant', input, {
      proc: op.proc,
      role: 'first',
      customer: op.customer,
      op: op.i,
    })
    if (!this.expect(record, ['ok'])) return
    const result = record.answer.result!
    this.checkBalanceFacts(record, result)
    if (n(result.amount) !== amount) this.fail('grant answer', describe(record))
    this.acknowledge(record, amount)
  }

  async consume(op: PlanOp) {
    const amount = this.hot(op) ? 1 + Math.floor(op.a * 8) : 1 + Math.floor(op.a * 60)
    const record = await this.send(
      'usage.consume',
      {
        telegramUserId: op.customer,
        amount,
        reason: 'attack consume',
        idempotencyKey: this.key(op),
      },
      { proc: op.proc, role: 'first', customer: op.customer, op: op.i },
    )
    if (!this.expect(record, ['ok', 'refused:INSUFFICIENT_CREDITS'])) return
    const result = record.answer.result!
    this.checkBalanceFacts(record, result)
    if (n(result.consumed) !== amount) this.fail('consume answer', describe(record))
    this.acknowledge(record, -amount)
  }

  async reserve(op: PlanOp) {
    const amount = this.hot(op) ? 1 + Math.floor(op.a * 12) : 5 + Math.floor(op.a * 80)
    // A third of the holds are short (1–3 s) and expire while the load runs.
    const ttlSeconds = op.b < 0.35 ? 1 + Math.floor(op.c * 3) : 300
    const record = await this.send(
      'usage.reserve',
      {
        telegramUserId: op.customer,
        amount,
        ttlSeconds,
        reason: 'attack reserve',
        idempotencyKey: this.key(op),
      },
      { proc: op.proc, role: 'first', customer: op.customer, op: op.i },
    )
    if (!this.expect(record, ['ok', 'refused:INSUFFICIENT_CREDITS'])) return
    const result = record.answer.result!
    this.checkBalanceFacts(record, result)
    if (n(result.amount) !== amount) this.fail('reserve answer', describe(record))
    this.holds.push({
      holdId: String(result.holdId),
      customer: op.customer,
      amount,
      expiresAt: Date.parse(String(result.expiresAt)),
      createdAt: record.startedAt,
      state: 'open',
    })
    this.acknowledge(record, 0)
  }

  /** An open hold, preferably of the op's customer; marked closing so no other op picks it. */
  private takeHold(op: PlanOp, minLifeMs = 0): HoldModel | null {
    const now = Date.now()
    if (this.holds.length > 1000)
      this.holds = this.holds.filter((h) => h.state !== 'closed' && h.expiresAt > now - 5000)
    const open = this.holds.filter((h) => h.state === 'open' && h.expiresAt - now > minLifeMs)
    if (open.length === 0) return null
    const own = open.filter((h) => h.customer === op.customer)
    const pool = own.length ? own : open
    const hold = pool[Math.floor(op.b * pool.length)]!
    hold.state = 'closing'
    return hold
  }

  /** A hold may be legitimately closed already: expired (its TTL passed) or voided by a refund. */
  private mayBeClosed(hold: HoldModel | ReservationModel, answeredAt: number) {
    return answeredAt >= hold.expiresAt - 1500 || this.refundTouched(hold)
  }

  /** A refund of the hold's customer was sent after the hold was made, or is still in flight. */
  private refundTouched(hold: { customer: number; createdAt: number }) {
    const customer = this.customers.get(hold.customer)!
    return customer.refundsInFlight > 0 || customer.refundSentAt >= hold.createdAt
  }

  private settleAmount(op: PlanOp, reserved: number) {
    const mode = op.c < 0.34 ? 'under' : op.c < 0.67 ? 'exact' : 'over'
    if (mode === 'under') return Math.floor(op.a * reserved)
    if (mode === 'exact') return reserved
    return reserved + 1 + Math.floor(op.a * (this.hot(op) ? 10 : 60))
  }

  async settleOrRelease(op: PlanOp, what: 'settle' | 'release') {
    const hold = this.takeHold(op)
    if (!hold) return this.consume(op)
    const customer = hold.customer
    const amount = this.settleAmount(op, hold.amount)
    const record =
      what === 'settle'
        ? await this.send(
            'usage.settle',
            { holdId: hold.holdId, amount, idempotencyKey: this.key(op) },
            { proc: op.proc, role: 'first', customer, op: op.i },
          )
        : await this.send(
            'usage.release',
            { holdId: hold.holdId, idempotencyKey: this.key(op) },
            { proc: op.proc, role: 'first', customer, op: op.i },
          )
    const closed = this.mayBeClosed(hold, record.endedAt)
    if (!this.expect(record, closed ? ['ok', 'conflict:HOLD_NOT_ACTIVE'] : ['ok'])) {
      if (record.answer.billing === 'HOLD_NOT_ACTIVE') hold.state = 'closed'
      else if (record.answer.outcome !== 'ok') hold.state = 'open'
      return
    }
    hold.state = 'closed'
    const result = record.answer.result!
    this.checkBalanceFacts(record, result)
    const refunded = this.refundTouched(hold)
    if (what === 'settle') {
      this.checkSettle(record, amount, hold.amount, refunded)
      this.acknowledge(record, -n(result.charged))
    } else {
      // Credits coming back repay a debt first; the answer must still account for all of them.
      const back = n(result.returned) + n(result.repaid ?? 0)
      if (refunded ? back > hold.amount : back !== hold.amount)
        this.fail(
          'release answer',
          `${describe(record)}; the hold held ${hold.amount}: returned (+ repaid) must add up to it`,
        )
      this.acknowledge(record, 0)
    }
  }

  private checkSettle(record: CallRecord, cost: number, held: number, refunded: boolean) {
    const r = record.answer.result!
    const reserved = n(r.reserved)
    const charged = n(r.charged)
    // Credits coming back repay a debt first; the answer must still account for all of them.
    const returned = n(r.returned) + n(r.repaid ?? 0)
    const shortfall = n(r.shortfall)
    const problems: string[] = []
    if (refunded ? reserved > held : reserved !== held)
      problems.push(`reserved ${reserved}, hold had ${held}`)
    if (cost <= reserved) {
      if (charged !== cost || returned !== reserved - cost || shortfall !== 0)
        problems.push(
          'actual ≤ held must charge the actual and return (or repay debt with) the rest',
        )
    } else {
      const full = charged === cost && shortfall === 0
      const capped = charged === reserved && shortfall === cost - reserved
      if (!(full || capped) || returned !== 0)
        problems.push('an overage is charged in full or not at all (shortfall)')
    }
    if (problems.length) this.fail('settle answer', `${describe(record)}: ${problems.join('; ')}`)
  }

  /** settle and release of one hold at once, on two processes: exactly one of them wins. */
  async race(op: PlanOp) {
    const hold = this.takeHold(op, 30_000)
    if (!hold) return this.reserve(op)
    this.stats.races++
    const customer = hold.customer
    const amount = this.settleAmount(op, hold.amount)
    const other = (op.proc + 1) % this.options.processes
    const [settled, released] = await Promise.all([
      this.send(
        'usage.settle',
        { holdId: hold.holdId, amount, idempotencyKey: this.key(op, '.s') },
        { proc: op.proc, role: 'race', customer, op: op.i },
      ),
      this.send(
        'usage.release',
        { holdId: hold.holdId, idempotencyKey: this.key(op, '.r') },
        { proc: other, role: 'race', customer, op: op.i },
      ),
    ])
    hold.state = 'closed'
    const refunded = this.refundTouched(hold)
    const answers = [settled, released]
    for (const r of answers) this.expect(r, ['ok', 'conflict:HOLD_NOT_ACTIVE'])
    const winners = answers.filter((r) => r.answer.outcome === 'ok')
    if (winners.length !== 1 && !(refunded && winners.length === 0))
      this.fail(
        'settle/release race',
        `${winners.length} of settle+release on one hold succeeded: ${describe(settled)} | ${describe(released)}`,
      )
    if (settled.answer.outcome === 'ok') {
      this.checkSettle(settled, amount, hold.amount, refunded)
      this.acknowledge(settled, -n(settled.answer.result!.charged))
    }
    if (released.answer.outcome === 'ok') this.acknowledge(released, 0)
  }

  async consumeFeature(op: PlanOp) {
    const image = op.b < 0.5
    const quantity = image ? 1 : 100 + Math.floor(op.a * 2400)
    const record = await this.send(
      'usage.consumeFeature',
      {
        telegramUserId: op.customer,
        feature: image ? 'image' : 'ai.tokens',
        quantity,
        idempotencyKey: this.key(op),
      },
      { proc: op.proc, role: 'first', customer: op.customer, op: op.i },
    )
    if (!this.expect(record, ['ok', 'refused:INSUFFICIENT_CREDITS', 'refused:QUOTA_EXCEEDED']))
      return
    const r = record.answer.result!
    this.checkBalanceFacts(record, r)
    const free = n(r.freeQuantity)
    const price = image ? 20 * (quantity - free) : Math.ceil((quantity - free) / 100)
    if (n(r.quantity) !== quantity || n(r.credits) !== price || free < 0 || free > quantity)
      this.fail('consumeFeature answer', `${describe(record)}; expected ${price} credits`)
    this.acknowledge(record, -n(r.credits))
  }

  async reserveFeature(op: PlanOp) {
    const quantity = 200 + Math.floor(op.a * 2800)
    const ttlSeconds = op.b < 0.35 ? 1 + Math.floor(op.c * 3) : 300
    const record = await this.send(
      'usage.reserveFeature',
      {
        telegramUserId: op.customer,
        feature: 'ai.tokens',
        quantity,
        ttlSeconds,
        idempotencyKey: this.key(op),
      },
      { proc: op.proc, role: 'first', customer: op.customer, op: op.i },
    )
    if (!this.expect(record, ['ok', 'refused:INSUFFICIENT_CREDITS', 'refused:QUOTA_EXCEEDED']))
      return
    const r = record.answer.result!
    this.checkBalanceFacts(record, r)
    this.reservations.push({
      reservationId: String(r.reservationId),
      customer: op.customer,
      quantity,
      credits: n(r.credits),
      expiresAt: Date.parse(String(r.expiresAt)),
      createdAt: record.startedAt,
      state: 'open',
    })
    this.acknowledge(record, 0)
  }

  async closeReservation(op: PlanOp, what: 'settle' | 'release') {
    const now = Date.now()
    if (this.reservations.length > 1000)
      this.reservations = this.reservations.filter(
        (r) => r.state !== 'closed' && r.expiresAt > now - 5000,
      )
    const open = this.reservations.filter((r) => r.state === 'open' && r.expiresAt > now)
    if (open.length === 0) return this.consumeFeature(op)
    const own = open.filter((r) => r.customer === op.customer)
    const pool = own.length ? own : open
    const reservation = pool[Math.floor(op.b * pool.length)]!
    reservation.state = 'closing'
    const quantity =
      op.c < 0.34
        ? Math.floor(op.a * reservation.quantity)
        : op.c < 0.67
          ? reservation.quantity
          : reservation.quantity + 1 + Math.floor(op.a * 2000)
    const record =
      what === 'settle'
        ? await this.send(
            'usage.settleFeature',
            { reservationId: reservation.reservationId, quantity, idempotencyKey: this.key(op) },
            { proc: op.proc, role: 'first', customer: reservation.customer, op: op.i },
          )
        : await this.send(
            'usage.releaseFeature',
            { reservationId: reservation.reservationId, idempotencyKey: this.key(op) },
            { proc: op.proc, role: 'first', customer: reservation.customer, op: op.i },
          )
    const closed = this.mayBeClosed(reservation, record.endedAt)
    if (!this.expect(record, closed ? ['ok', 'conflict'] : ['ok'])) {
      reservation.state =
        record.answer.outcome === 'conflict' && record.answer.billing !== 'CONCURRENT_UPDATE'
          ? 'closed'
          : 'open'
      return
    }
    reservation.state = 'closed'
    const r = record.answer.result!
    this.checkBalanceFacts(record, r)
    this.acknowledge(record, what === 'settle' ? -n(r.charged) : 0)
  }

  async payment(op: PlanOp) {
    // Hot customers stay hot: most packs go to a cold customer (a hot one's packs get refunded).
    if (this.hot(op) && op.c < 0.8) {
      const cold = [...this.customers.values()].filter((c) => !c.hot)
      if (cold.length) op = { ...op, customer: cold[Math.floor(op.a * cold.length)]!.id }
    }
    const productKey = op.a < 0.7 ? 'pack_s' : 'pack_m'
    const credits = productKey === 'pack_s' ? 500 : 1200
    const invoice = await this.send(
      'invoices.create',
      { telegramUserId: op.customer, productKey },
      { proc: op.proc, role: 'first', customer: op.customer, op: op.i },
    )
    if (!this.expect(invoice, ['ok'])) return
    const inv = invoice.answer.result!
    const chargeId = `stxATTACK${this.options.seed}x${op.i}`
    const input: Json = {
      successfulPayment: {
        currency: 'XTR',
        total_amount: n(inv.priceStars),
        invoice_payload: String(inv.payload),
        telegram_payment_charge_id: chargeId,
        provider_payment_charge_id: '',
      },
      from: { id: op.customer, is_bot: false, first_name: 'Attack' },
    }
    // A third of the payments are delivered three times at once, on different processes.
    const copies = op.b < 0.33 ? 3 : 1
    const answers = await Promise.all(
      Array.from({ length: copies }, (_, j) =>
        this.send('payments.record', input, {
          proc: (op.proc + j) % this.options.processes,
          role: j === 0 ? 'first' : 'dup',
          customer: op.customer,
          op: op.i,
        }),
      ),
    )
    const ok = answers.filter((r) => this.expect(r, ['ok']))
    if (ok.length === 0) {
      // No delivery answered (each one is a failure already): the database tells what happened.
      this.unresolvedCharges.push({ chargeId, customer: op.customer })
      return
    }
    const firsts = ok.filter((r) => r.answer.result!.duplicate === false)
    // A delivery that lost its answer to a SIGKILL (or got a 5xx) may have been the first one.
    const retried = ok.some((r) => r.answer.failedOn.length > 0) || ok.length < answers.length
    if (firsts.length > 1 || (firsts.length === 0 && !retried))
      this.fail(
        'payment exactly once',
        `${firsts.length} of ${copies} deliveries of ${chargeId} answered duplicate:false: ${answers.map(describe).join(' | ')}`,
      )
    const first = firsts[0] ?? ok[0]!
    const r = first.answer.result!
    for (const other of ok) {
      const o = other.answer.result!
      if (o.paymentId !== r.paymentId || o.credits !== r.credits || o.status !== r.status)
        this.fail('payment replay', `${describe(other)} differs from ${describe(first)}`)
      this.checkBalanceFacts(other, o)
    }
    if (r.status !== 'paid' || r.flag !== null || n(r.credits) !== credits)
      this.fail('payment outcome', `${describe(first)}; expected paid with ${credits} credits`)
    this.payments.push({
      chargeId,
      customer: op.customer,
      payload: String(inv.payload),
      stars: n(inv.priceStars),
      credits: n(r.credits),
      paymentId: n(r.paymentId),
      state: 'paid',
    })
    this.customers.get(op.customer)!.net += n(r.credits)
  }

  async refund(op: PlanOp) {
    const paid = this.payments.filter((p) => p.state === 'paid')
    if (paid.length === 0) return this.payment(op)
    // Refunds go to the op's customer's payments first, else to a hot customer's (debt), else any.
    const own = paid.filter((p) => p.customer === op.customer)
    const hot = paid.filter((p) => this.customers.get(p.customer)!.hot)
    const pool = own.length ? own : hot.length ? hot : paid
    const payment = pool[Math.floor(op.a * pool.length)]!
    payment.state = 'refunding'
    const customer = this.customers.get(payment.customer)!
    customer.refundSentAt = Date.now()
    customer.refundsInFlight++
    const input: Json = {
      refundedPayment: {
        currency: 'XTR',
        total_amount: payment.stars,
        invoice_payload: payment.payload,
        telegram_payment_charge_id: payment.chargeId,
      },
      from: { id: payment.customer, is_bot: false, first_name: 'Attack' },
    }
    const copies = op.b < 0.3 ? 2 : 1
    const answers = await Promise.all(
      Array.from({ length: copies }, (_, j) =>
        this.send('payments.recordRefund', input, {
          proc: (op.proc + j) % this.options.processes,
          role: j === 0 ? 'first' : 'dup',
          customer: payment.customer,
          op: op.i,
        }),
      ),
    )
    customer.refundSentAt = Date.now()
    customer.refundsInFlight--
    const ok = answers.filter((r) => this.expect(r, ['ok']))
    if (ok.length === 0) {
      // Unknown whether it was applied: the database tells (and the failure is recorded).
      payment.state = 'unknown'
      return
    }
    payment.state = 'refunded'
    const firsts = ok.filter((r) => r.answer.result!.alreadyRefunded === false)
    const retried = ok.some((r) => r.answer.failedOn.length > 0) || ok.length < answers.length
    if (firsts.length > 1 || (firsts.length === 0 && !retried))
      this.fail(
        'refund exactly once',
        `${firsts.length} of ${copies} refunds of ${payment.chargeId} answered alreadyRefunded:false: ${answers.map(describe).join(' | ')}`,
      )
    const r = (firsts[0] ?? ok[0]!).answer.result!
    const spent = n(r.spent)
    if (
      r.policy !== 'debt' ||
      spent !== n(r.repaidFromOtherLots) + n(r.debtAdded) ||
      n(r.voided) + spent > payment.credits
    )
      this.fail(
        'refund outcome',
        `${describe(firsts[0] ?? ok[0]!)}; payment gave ${payment.credits}`,
      )
    for (const other of ok) {
      this.checkBalanceFacts(other, other.answer.result!)
      for (const fact of ['voided', 'spent', 'repaidFromOtherLots', 'debtAdded'])
        if (other.answer.result![fact] !== r[fact])
          this.fail('refund replay', `${describe(other)} differs in ${fact}`)
    }
    // The whole lot leaves the balance: unspent voided (held included), spent taken back or owed.
    customer.net -= payment.credits
  }

  /** Sends an acknowledged call again, same key and same input: the answer must be identical. */
  async replay(op: PlanOp) {
    const candidates = this.replayable()
    if (candidates.length === 0) return this.consume(op)
    const original = candidates[Math.floor(op.a * candidates.length)]!
    const record = await this.send(original.path, original.input, {
      proc: op.proc,
      role: 'replay',
      customer: original.customer,
      op: op.i,
    })
    this.stats.replaysChecked++
    if (!this.expect(record, ['ok'])) return
    if (!isDeepStrictEqual(record.answer.result, original.answer.result))
      this.fail(
        'replay differs',
        `${describe(record)}\n    first answer: ${JSON.stringify(original.answer.result)}`,
      )
  }

  private replayable(): CallRecord[] {
    // Keyed acts that were acknowledged (payments replay by charge id and are checked apart).
    const list: CallRecord[] = []
    const recent = this.records.length > 4000 ? this.records.slice(-4000) : this.records
    for (const r of recent)
      if (r.key && r.answer.outcome === 'ok' && r.role !== 'replay' && r.path !== 'payments.record')
        list.push(r)
    return list
  }

  /** Sends an acknowledged key with a different input (or for another act): CONFLICT. */
  async conflict(op: PlanOp) {
    const candidates = this.replayable()
    if (candidates.length === 0) return this.consume(op)
    const original = candidates[Math.floor(op.a * candidates.length)]!
    let path = original.path
    const input: Json = { ...original.input }
    if (op.b < 0.3 && (path === 'usage.consume' || path === 'usage.reserve')) {
      // The same key for the other act, same amount.
      path = path === 'usage.consume' ? 'usage.reserve' : 'usage.consume'
      if (path === 'usage.consume') delete input.ttlSeconds
    } else if ('amount' in input) input.amount = n(input.amount) + 1
    else if ('quantity' in input) input.quantity = n(input.quantity) + 1
    else input.reason = 'a different reason'
    const record = await this.send(path, input, {
      proc: op.proc,
      role: 'conflict',
      customer: original.customer,
      op: op.i,
    })
    this.stats.conflictsChecked++
    this.expect(record, ['conflict:IDEMPOTENCY_CONFLICT'])
  }

  /** One key sent at once as consume ×5 and reserve ×1 across the processes. */
  async burst(op: PlanOp) {
    this.stats.bursts++
    const amount = this.hot(op) ? 1 + Math.floor(op.a * 6) : 1 + Math.floor(op.a * 40)
    const key = this.key(op)
    const base = {
      telegramUserId: op.customer,
      amount,
      reason: 'attack burst',
      idempotencyKey: key,
    }
    const calls = Array.from({ length: 6 }, (_, j) =>
      j < 5
        ? this.send('usage.consume', base, {
            proc: (op.proc + j) % this.options.processes,
            role: 'burst',
            customer: op.customer,
            op: op.i,
          })
        : this.send(
            'usage.reserve',
            { ...base, ttlSeconds: 300 },
            {
              proc: (op.proc + j) % this.options.processes,
              role: 'burst',
              customer: op.customer,
              op: op.i,
            },
          ),
    )
    const answers = await Promise.all(calls)
    for (const r of answers)
      this.expect(r, ['ok', 'refused:INSUFFICIENT_CREDITS', 'conflict:IDEMPOTENCY_CONFLICT'])
    const ok = answers.filter((r) => r.answer.outcome === 'ok')
    const acts = new Set(ok.map((r) => r.path))
    if (acts.size > 1)
      this.fail(
        'one key, two acts',
        `consume and reserve both succeeded with ${key}: ${answers.map(describe).join(' | ')}`,
      )
    const first = ok[0]
    if (!first) return
    for (const other of ok)
      if (other.path === first.path && !isDeepStrictEqual(other.answer.result, first.answer.result))
        this.fail('burst replay differs', `${describe(other)} vs ${describe(first)}`)
    const result = first.answer.result!
    this.checkBalanceFacts(first, result)
    if (first.path === 'usage.reserve') {
      this.holds.push({
        holdId: String(result.holdId),
        customer: op.customer,
        amount,
        expiresAt: Date.parse(String(result.expiresAt)),
        createdAt: first.startedAt,
        state: 'open',
      })
      this.acknowledge(first, 0)
    } else this.acknowledge(first, -amount)
  }

  async balance(op: PlanOp) {
    const record = await this.send(
      'credits.balance',
      { telegramUserId: op.customer },
      { proc: op.proc, role: 'read', customer: op.customer, op: op.i },
    )
    if (!this.expect(record, ['ok'])) return
    const r = record.answer.result!
    this.checkBalanceFacts(record, r)
    const lots = (r.lots as Array<{ remaining: number }>).reduce((s, l) => s + l.remaining, 0)
    const holds = (r.holds as Array<{ amount: number }>).reduce((s, h) => s + h.amount, 0)
    if (lots !== n(r.available) || holds !== n(r.held))
      this.fail('balance answer', `${describe(record)}: lots ${lots}, holds ${holds}`)
  }

  /** Lets short holds and reservations expire and the expiry job sweep them. */
  async quiesce(ms: number) {
    await sleep(ms)
  }

  // -------------------------------------------------------------------------------------------
  // After the load: the database against the model and against itself.

  async verify(): Promise<void> {
    const { db } = this.cluster
    const p = this.tenant.projectId

    // Rule 4, three ways: cache = ledger sums; available = live lots; held = open holds.
    const mismatched = await query<Json>(
      db,
      sql`select c.telegram_user_id, c.available, c.held, c.debt,
            coalesce(l.a, 0) as ledger_available, coalesce(l.h, 0) as ledger_held, coalesce(l.d, 0) as ledger_debt,
            coalesce(g.remaining, 0) as lots, coalesce(h.amount, 0) as holds
          from customers c
          left join (select customer_id, sum(amount) a, sum(held_change) h, sum(debt_change) d
                     from ledger_entries where project_id = ${p} group by 1) l on l.customer_id = c.id
          left join (select customer_id, sum(remaining) remaining from grants
                     where project_id = ${p} and remaining > 0 group by 1) g on g.customer_id = c.id
          left join (select customer_id, sum(amount) amount from holds
                     where project_id = ${p} and status = 'active' group by 1) h on h.customer_id = c.id
          where c.project_id = ${p} and (
            c.available <> coalesce(l.a, 0) or c.held <> coalesce(l.h, 0) or c.debt <> coalesce(l.d, 0)
            or c.available <> coalesce(g.remaining, 0) or c.held <> coalesce(h.amount, 0))`,
    )
    for (const m of mismatched) this.fail('cache ≠ ledger ≠ lots + holds', JSON.stringify(m))

    const negative = await query<Json>(
      db,
      sql`select telegram_user_id, available, held, debt from customers
          where project_id = ${p} and (available < 0 or held < 0 or debt < 0 or (available > 0 and debt > 0))`,
    )
    for (const m of negative) this.fail('negative or available with debt', JSON.stringify(m))

    // Every entry's balance-after is the running sum of the customer's entries before it.
    const running = await query<Json>(
      db,
      sql`select * from (
            select telegram_user_id, e.id, e.kind, e.available_after, e.held_after, e.debt_after,
              sum(e.amount) over w as a, sum(e.held_change) over w as h, sum(e.debt_change) over w as d
            from ledger_entries e join customers c on c.project_id = e.project_id and c.id = e.customer_id
            where e.project_id = ${p}
            window w as (partition by e.customer_id order by e.id)
          ) x where available_after <> a or held_after <> h or debt_after <> d
          order by id limit 20`,
    )
    for (const m of running) this.fail('entry balance-after ≠ running sum', JSON.stringify(m))

    const badHolds = await query<Json>(
      db,
      sql`select h.id, h.amount, h.status, (select coalesce(sum((a->>'amount')::int8), 0)
            from jsonb_array_elements(h.allocations) a) as allocated
          from holds h where h.project_id = ${p} and h.status = 'active'
            and h.amount <> (select coalesce(sum((a->>'amount')::int8), 0) from jsonb_array_elements(h.allocations) a)`,
    )
    for (const m of badHolds) this.fail('hold ≠ its allocations', JSON.stringify(m))

    const stuck = await query<Json>(
      db,
      sql`select id, expires_at from holds where project_id = ${p} and status = 'active'
            and expires_at < now() - interval '10 seconds' limit 10`,
    )
    for (const m of stuck) this.fail('expired hold never swept', JSON.stringify(m))

    await this.verifyEntries()
    // The hash chains, the running sums and cache = ledger = lots + holds, by the engine's verifier.
    for (const f of (await verifyLedger(db, { projectId: p })).findings)
      this.fail('ledger verifier', JSON.stringify(f))
    await this.verifyPayments()
    await this.verifyKeyless()

    // The model: available + held − debt per customer is what the acknowledged calls did.
    const state = await query<{ telegram_user_id: string; net: string }>(
      db,
      sql`select telegram_user_id, available + held - debt as net from customers where project_id = ${p}`,
    )
    const unknown = this.unknownEffects()
    for (const row of state) {
      const id = Number(row.telegram_user_id)
      const model = this.customers.get(id)
      if (!model) {
        this.fail('customer nobody asked for', JSON.stringify(row))
        continue
      }
      const expected = model.net + (unknown.get(id) ?? 0)
      if (Number(row.net) !== expected)
        this.fail(
          'balance ≠ model',
          `customer ${id}: available+held−debt = ${row.net}, acknowledged calls add up to ${expected} (seed ${this.options.seed})`,
        )
    }

    await this.verifyQuotas()
  }

  /** Effects of calls that never got an answer (a 5xx): what the ledger says they did. */
  private unknownEffects(): Map<number, number> {
    return this.unknown
  }
  private unknown = new Map<number, number>()

  private async verifyEntries() {
    const { db } = this.cluster
    const p = this.tenant.projectId
    const entries = await query<{
      id: string
      telegram_user_id: string
      kind: string
      amount: string
      held_change: string
      debt_change: string
      hold_id: string | null
      idempotency_key: string
    }>(
      db,
      sql`select e.id, c.telegram_user_id, e.kind, e.amount, e.held_change, e.debt_change, e.hold_id, e.idempotency_key
          from ledger_entries e join customers c on c.project_id = e.project_id and c.id = e.customer_id
          where e.project_id = ${p} and e.idempotency_key is not null`,
    )
    const byKey = new Map<string, typeof entries>()
    for (const e of entries) {
      const list = byKey.get(e.idempotency_key) ?? []
      list.push(e)
      byKey.set(e.idempotency_key, list)
    }
    const claimed = new Set(
      (
        await query<{ key: string }>(
          db,
          sql`select key from idempotency_keys where project_id = ${p}`,
        )
      ).map((r) => r.key),
    )
    const expectedKind: Partial<Record<Path, string>> = {
      'credits.grant': 'grant',
      'usage.consume': 'consume',
      'usage.reserve': 'hold',
      'usage.settle': 'settle',
      'usage.release': 'release',
      'usage.consumeFeature': 'consume',
      'usage.reserveFeature': 'hold',
      'usage.settleFeature': 'settle',
      'usage.releaseFeature': 'release',
    }
    for (const [key, record] of this.acked) {
      const r = record.answer.result!
      // A settle over its hold, under the overage policy, also writes a shortfall entry under the
      // same key: the one the answer names (`overage.entryId`), worth what the overage paid or owed.
      const overage = r.overage as { entryId?: unknown; paid?: unknown; debt?: unknown } | undefined
      const all = byKey.get(key) ?? []
      const shortfalls = all.filter((e) => e.kind === 'shortfall')
      const list = all.filter((e) => e.kind !== 'shortfall')
      const overageEntry = overage?.entryId == null ? null : n(overage.entryId)
      if (
        shortfalls.length !== (overageEntry === null ? 0 : 1) ||
        (overageEntry !== null && Number(shortfalls[0]!.id) !== overageEntry)
      ) {
        this.fail('shortfall entry ≠ answer', `${describe(record)}: entries ${JSON.stringify(all)}`)
        continue
      }
      if (shortfalls[0]) {
        const e = shortfalls[0]
        const effect = Number(e.amount) + Number(e.held_change) - Number(e.debt_change)
        if (
          Number(e.telegram_user_id) !== record.customer ||
          effect !== -(n(overage!.paid) + n(overage!.debt))
        )
          this.fail('shortfall entry ≠ answer', `${describe(record)}: ${JSON.stringify(e)}`)
      }
      // reserveFeature names no entry: it writes one exactly when part of it is paid (held).
      // A wholly free settle over its allowance writes only the shortfall, and names it.
      const writes =
        record.path === 'usage.reserveFeature'
          ? n(r.credits) > 0
          : r.entryId !== null && (overageEntry === null || n(r.entryId) !== overageEntry)
      const entryId = record.path === 'usage.reserveFeature' ? null : n(r.entryId)
      if (!writes) {
        if (list.length)
          this.fail('entry for a free act', `${describe(record)}: ${JSON.stringify(list)}`)
        continue
      }
      if (list.length !== 1 || (entryId !== null && Number(list[0]!.id) !== entryId)) {
        this.fail(
          list.length === 0
            ? 'acknowledged call without its entry'
            : 'not exactly one entry per key',
          `${describe(record)}: entries ${JSON.stringify(list)}`,
        )
        continue
      }
      const e = list[0]!
      const effect = Number(e.amount) + Number(e.held_change) - Number(e.debt_change)
      const modeled = this.effectOf(record)
      const problems: string[] = []
      // A feature reservation that was wholly free has no hold: its settle is a plain consume.
      const kindOk =
        e.kind === expectedKind[record.path] ||
        (record.path === 'usage.settleFeature' && e.kind === 'consume' && n(r.reserved) === 0)
      if (!kindOk) problems.push(`kind ${e.kind}`)
      if (Number(e.telegram_user_id) !== record.customer) problems.push('another customer')
      if (effect !== modeled) problems.push(`effect ${effect}, answer says ${modeled}`)
      if (record.path === 'usage.reserve' && e.hold_id !== r.holdId) problems.push('hold id')
      if (record.path === 'usage.consume' && Number(e.amount) !== -n(record.input.amount))
        problems.push(`amount ${e.amount}`)
      if (problems.length)
        this.fail(
          'entry ≠ answer',
          `${describe(record)}: ${problems.join(', ')}; ${JSON.stringify(e)}`,
        )
    }
    // A refused call writes nothing and does not use up its key.
    for (const key of this.keysSent) {
      if (this.acked.has(key)) continue
      const list = byKey.get(key)
      if (list?.length) {
        const record = this.recordByKey.get(key)
        const answered =
          record && record.answer.outcome !== 'server' && record.answer.outcome !== 'transport'
        if (answered)
          this.fail(
            'refused call wrote',
            `${record ? describe(record) : key}: ${JSON.stringify(list)}`,
          )
        // A 5xx call that did commit: count what it did, so the balance check stays exact.
        for (const e of list) {
          const id = Number(e.telegram_user_id)
          this.unknown.set(
            id,
            (this.unknown.get(id) ?? 0) +
              Number(e.amount) +
              Number(e.held_change) -
              Number(e.debt_change),
          )
        }
      } else if (claimed.has(key)) {
        const record = this.recordByKey.get(key)
        this.fail('refused call used up its key', record ? describe(record) : key)
      }
    }
    for (const key of byKey.keys())
      if (!this.keysSent.has(key)) this.fail('entry with a key nobody sent', key)
  }

  /** Entries without a key: payments' lots, refunds' revokes, expired holds. Nothing else. */
  private async verifyKeyless() {
    const { db } = this.cluster
    const p = this.tenant.projectId
    const keyless = await query<{ kind: string; n: string; net: string; nonzero: string }>(
      db,
      sql`select kind, count(*) as n, sum(amount + held_change - debt_change) as net,
            count(*) filter (where amount + held_change - debt_change <> 0) as nonzero
          from ledger_entries where project_id = ${p} and idempotency_key is null group by kind`,
    )
    const paid = this.payments.reduce((s, x) => s + x.credits, 0) + this.unresolvedCredits.paid
    const refunded =
      this.payments.filter((x) => x.state === 'refunded').reduce((s, x) => s + x.credits, 0) +
      this.unresolvedCredits.refunded
    for (const k of keyless) {
      // An expired hold's credits go back to their lots or repay a debt: each entry nets to zero.
      if (k.kind === 'hold_expire' && Number(k.nonzero) !== 0)
        this.fail('hold expiry lost credits', JSON.stringify(k))
      else if (k.kind === 'grant' && Number(k.net) !== paid)
        this.fail(
          'payment lots ≠ payments',
          `${JSON.stringify(k)}; acknowledged payments gave ${paid}`,
        )
      else if (k.kind === 'revoke' && Number(k.net) !== -refunded)
        this.fail(
          'revokes ≠ refunds',
          `${JSON.stringify(k)}; acknowledged refunds took ${refunded}`,
        )
      else if (!['hold_expire', 'grant', 'revoke'].includes(k.kind))
        this.fail('unexpected keyless entries', JSON.stringify(k))
    }
  }

  /** What an acknowledged call did to available + held − debt, by its own answer. */
  effectOf(record: CallRecord): number {
    const r = record.answer.result!
    switch (record.path) {
      case 'credits.grant':
        return n(record.input.amount)
      case 'usage.consume':
        return -n(record.input.amount)
      case 'usage.settle':
      case 'usage.settleFeature':
        return -n(r.charged)
      case 'usage.consumeFeature':
        return -n(r.credits)
      default:
        return 0
    }
  }

  private async verifyPayments() {
    const { db } = this.cluster
    const p = this.tenant.projectId
    const rowsByCharge = new Map(
      (
        await query<{
          id: string
          telegram_payment_charge_id: string
          status: string
          telegram_user_id: string
          credits: string | null
          revokes: string
        }>(
          db,
          sql`select p.id, p.telegram_payment_charge_id, p.status, p.telegram_user_id,
                (select sum(g.amount) from grants g where g.project_id = p.project_id and g.payment_id = p.id) as credits,
                (select count(*) from ledger_entries e where e.project_id = p.project_id and e.kind = 'revoke'
                   and e.metadata->>'paymentId' = p.id::text) as revokes
              from payments p where p.project_id = ${p}`,
        )
      ).map((r) => [r.telegram_payment_charge_id, r]),
    )
    // Calls that were never answered: what the database shows they did joins the model.
    const addUnknown = (customer: number, effect: number) =>
      this.unknown.set(customer, (this.unknown.get(customer) ?? 0) + effect)
    for (const charge of this.unresolvedCharges) {
      const row = rowsByCharge.get(charge.chargeId)
      if (!row) continue
      const credits = Number(row.credits ?? 0)
      this.unresolvedCredits.paid += credits
      addUnknown(charge.customer, credits)
    }
    for (const payment of this.payments) {
      if (payment.state !== 'unknown') continue
      const row = rowsByCharge.get(payment.chargeId)
      payment.state = row?.status === 'refunded' ? 'refunded' : 'paid'
      if (payment.state === 'refunded') addUnknown(payment.customer, -payment.credits)
    }
    for (const payment of this.payments) {
      const row = rowsByCharge.get(payment.chargeId)
      const expectedStatus = payment.state === 'refunded' ? 'refunded' : 'paid'
      if (
        !row ||
        Number(row.id) !== payment.paymentId ||
        row.status !== expectedStatus ||
        Number(row.credits ?? 0) !== payment.credits ||
        Number(row.telegram_user_id) !== payment.customer ||
        Number(row.revokes) !== (payment.state === 'refunded' ? 1 : 0)
      )
        this.fail(
          'payment row',
          `${payment.chargeId}: ${JSON.stringify(row)} vs ${JSON.stringify(payment)}`,
        )
    }
  }

  private async verifyQuotas() {
    const { db } = this.cluster
    const p = this.tenant.projectId
    // image: 10 a day per customer (project quota, calendar day in the project's time zone).
    const images = await query<Json>(
      db,
      sql`select u.customer_id, date_trunc('day', u.occurred_at at time zone pr.time_zone) as day, sum(u.quantity) as used
          from usage_events u join projects pr on pr.id = u.project_id
          where u.project_id = ${p} and u.feature_key = 'image'
          group by 1, 2 having sum(u.quantity) > 10`,
    )
    for (const m of images) this.fail('quota exceeded (image 10 a day)', JSON.stringify(m))
    const free = await query<Json>(
      db,
      sql`select u.customer_id, date_trunc('day', u.occurred_at at time zone pr.time_zone) as day, sum(u.free_quantity) as free
          from usage_events u join projects pr on pr.id = u.project_id
          where u.project_id = ${p} and u.feature_key = 'ai.tokens'
          group by 1, 2 having sum(u.free_quantity) > 5000`,
    )
    for (const m of free)
      this.fail('free allowance exceeded (5000 ai.tokens a day)', JSON.stringify(m))
  }

  /** Failures from the servers' own logs and from PostgreSQL's log for this database. */
  checkLogs() {
    const pg = this.cluster.pgLog.errorsFor(this.cluster.databaseName, this.mark.pg)
    const violations = pg.filter((line) => /violates .*constraint/.test(line))
    for (const line of violations) this.fail('PostgreSQL: constraint violated', line)
    const deadlocks = pg.filter((line) => /deadlock detected/.test(line)).length
    const serialization = pg.filter((line) => /could not serialize/.test(line)).length
    for (const line of this.cluster.serverLogErrors(this.mark))
      this.fail('server logged an error', line)
    return { pgErrors: pg.length, deadlocks, serialization, pgLog: this.cluster.pgLog.path }
  }

  report(): string {
    const lines = [...this.failureCounts].map(([kind, count]) => `  ${count} × ${kind}`)
    const details = this.failures.map(
      (f) => `- [${f.kind}] ${f.detail.length > 1500 ? `${f.detail.slice(0, 1500)}…` : f.detail}`,
    )
    return [
      `seed ${this.options.seed}: ${this.failures.length ? 'FAILED' : 'ok'}`,
      ...lines,
      ...details.slice(0, 80),
    ].join('\n')
  }
}

export function describe(record: CallRecord): string {
  const a = record.answer
  const answer =
    a.outcome === 'ok'
      ? `ok ${JSON.stringify(a.result)}`
      : `${a.outcome} ${a.status ?? ''} ${a.code ?? ''} ${a.billing ?? ''}: ${a.message ?? ''}`
  const tried = a.failedOn.length ? ` (no answer from ${a.failedOn.join(',')} first)` : ''
  return `#${record.seq} op ${record.op} ${record.role} ${record.path}@${a.process}${tried} ${JSON.stringify(record.input)} → ${answer}`
}
