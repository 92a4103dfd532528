/**
 * Fuzz of every procedure, over real HTTP, from its own input schema plus hostile values (NUL and
 * control characters, lone surrogates, 1 MB strings, −0, 2^53, 2^63, 1e308, "NaN", wrong shapes,
 * deep nesting, oversized batches). Expect: no 5xx, and no write on any refusal (a trigger on
 * every table logs each row written, before and after; a 4xx must leave every row as it found it).
 *
 *   FUZZ_INPUTS=100000 FUZZ_SEED=123 TEST_DATABASE_URL=postgres://… npx vitest run test/fuzz.test.ts
 *
 * FUZZ_INPUTS: how many calls (default sized for CI); FUZZ_SEED: replay a run (printed on every
 * run); FUZZ_DEBUG=1: print every refusal. Calls run one at a time, so each write in the log
 * belongs to the call that made it.
 */
import { appRouter } from '@e-stars/api'
import {
  createApiKey,
  createSecrets,
  generateSecretKey,
  login,
  seedDemoCatalog,
  seedDemoFeatures,
  setBotToken,
  verifyLedger,
} from '@e-stars/billing'
import type { Database } from '@e-stars/db'
import { createTestDatabase, onPostgres } from '@e-stars/db/testing'
import { createSandbox, type Sandbox, signInitData } from '@e-stars/sandbox'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'
import {
  describeInput,
  fieldPaths,
  forbiddenText,
  generate,
  type Hints,
  hostileFor,
  noHint,
  Pools,
  type Procedure,
  proceduresOf,
  Rng,
  toJson,
  valueAt,
  withValueAt,
  wrongShape,
} from './fuzz-inputs.ts'

const INPUTS = Number(process.env.FUZZ_INPUTS ?? 1000)
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
/** FUZZ_DEBUG=1 prints every refusal: to see why a procedure never gets past validation. */
const DEBUG = Boolean(process.env.FUZZ_DEBUG)
const ALICE = 2_000_001
const BOB = 2_000_002
const CAROL = 2_000_003
/** The Mini App user of me.*: no fuzzed input names it, so nothing blocks it mid-run. */
const DORA = 2_000_004

interface ServerError {
  msg: string | undefined
  obj: Record<string, unknown>
}

/** What the server logged as unexpected while a request ran: the cause of a 5xx. */
const serverErrors: ServerError[] = []
const logger = {
  info() {},
  warn() {},
  error(obj: object, msg?: string) {
    serverErrors.push({ msg, obj: obj as Record<string, unknown> })
  },
}

let sandbox: Sandbox
let database: Database
let server: RunningServer
let projectId: string
let apiKey: string
let apiKeyId: string
let botToken: string
let secretKey: string
const operatorSession = { token: '', csrf: '' }
let customerToken = ''

async function operatorLogin() {
  const owner = server.demoOperator!
  const session = await login(database.db, owner)
  operatorSession.token = session.token
  operatorSession.csrf = session.csrfToken
}

async function customerSignIn() {
  const initData = signInitData({ id: DORA, first_name: 'Dora', is_bot: false }, botToken)
  const response = await post('miniApp.signIn', { projectId, initData })
  const token = (response.body as { result?: { data?: { token?: string } } }).result?.data?.token
  if (!token) throw new Error(`Mini App sign-in failed: ${JSON.stringify(response.body)}`)
  customerToken = token
}

async function post(path: string, input: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: toJson(input),
  })
  return { status: response.status, body: (await response.json()) as unknown }
}

/** Every row written to any table, in order; the fuzz reads its tail around each call. */
async function installWriteLog(db: Database['db']) {
  await db.execute(
    sql.raw(
      'create table fuzz_writes (id bigserial primary key, tbl text, op text, old_row text, new_row text)',
    ),
  )
  await db.execute(
    sql.raw(`create function fuzz_log_write() returns trigger language plpgsql as $$
      begin
        insert into fuzz_writes (tbl, op, old_row, new_row) values (TG_TABLE_NAME, TG_OP,
          case when TG_OP <> 'INSERT' then to_jsonb(OLD)::text end,
          case when TG_OP <> 'DELETE' then to_jsonb(NEW)::text end);
        return null;
      end $$`),
  )
  const tables = (await db.execute(
    sql.raw(
      "select tablename from pg_tables where schemaname = 'public' and tablename <> 'fuzz_writes'",
    ),
  )) as unknown as { rows?: { tablename: string }[] } | { tablename: string }[]
  const names = (Array.isArray(tables) ? tables : (tables.rows ?? [])).map((t) => t.tablename)
  for (const name of names)
    await db.execute(
      sql.raw(
        `create trigger fuzz_log_write after insert or update or delete on "${name}" for each row execute function fuzz_log_write()`,
      ),
    )
  return names
}

async function query<T>(text: string): Promise<T[]> {
  const result = (await database.db.execute(sql.raw(text))) as unknown as { rows?: T[] } | T[]
  return Array.isArray(result) ? result : (result.rows ?? [])
}

const lastWrite = async () =>
  Number((await query<{ id: string | null }>('select max(id) as id from fuzz_writes'))[0]?.id ?? 0)
interface Write {
  tbl: string
  op: 'INSERT' | 'UPDATE' | 'DELETE'
  old_row: string | null
  new_row: string | null
}

const writesAfter = (id: number) =>
  query<Write>(`select tbl, op, old_row, new_row from fuzz_writes where id > ${id} order by id`)

/**
 * What `writes` changed in the end: rows inserted and deleted again, or updated and put back as
 * they were (a refund request withdrawn when Telegram refuses), changed nothing.
 */
function netChanges(writes: Write[]): string[] {
  // Each row as it stands after the writes so far → how it was before them (null: absent).
  const now = new Map<string, { tbl: string; before: string | null }>()
  const deleted: string[] = []
  for (const w of writes) {
    const was = (row: string | null) => {
      const key = `${w.tbl}|${row}`
      const entry = now.get(key)
      now.delete(key)
      return entry ? entry.before : row
    }
    if (w.op === 'INSERT') now.set(`${w.tbl}|${w.new_row}`, { tbl: w.tbl, before: null })
    if (w.op === 'UPDATE') {
      const before = was(w.old_row)
      if (w.new_row !== before) now.set(`${w.tbl}|${w.new_row}`, { tbl: w.tbl, before })
    }
    if (w.op === 'DELETE' && was(w.old_row) !== null) deleted.push(`deleted from ${w.tbl}`)
  }
  return [
    ...[...now.values()].map((e) =>
      e.before === null ? `inserted into ${e.tbl}` : `updated ${e.tbl}`,
    ),
    ...deleted,
  ]
}

/**
 * Writes a refusal makes by design: the console session slides on every authenticated call
 * (before the input is read); a login or Mini App sign-in is counted in `rate_limits` before
 * it runs and given back only on success, so every refusal of one writes there (that is the
 * limit); a
 * quota refusal emits its latched `quota.exhausted` event in a transaction of its own.
 */
function writeAllowedOnRefusal(paths: string[], answer: Answer, w: Write) {
  if (w.tbl === 'operator_sessions' && w.op === 'UPDATE') return true
  if (w.tbl === 'rate_limits')
    return (
      (paths.includes('operator.auth.login') || paths.includes('miniApp.signIn')) &&
      answer.statuses.some((s) => s >= 400 && s < 500)
    )
  if (w.tbl === 'events' || w.tbl === 'event_latches')
    return answer.statuses.includes(412) && answer.text.includes('"code":"QUOTA_EXCEEDED"')
  return false
}

type Auth = 'bot' | 'operator' | 'customer' | 'none'

function authOf(path: string): Auth {
  if (path === 'operator.auth.login' || path === 'operator.auth.session') return 'none'
  // The console's routers (session cookie), named where the REST surface is told what is not a bot's.
  if (path.startsWith('operator.')) return 'operator'
  if (['webhooks', 'refundAbuse', 'margin'].includes(path.split('.')[0]!)) return 'operator'
  if (path.startsWith('me.')) return 'customer'
  if (path.startsWith('miniApp.')) return 'none'
  return 'bot'
}

function headersFor(auth: Auth, rng: Rng, mangle: boolean): Record<string, string> {
  if (mangle)
    return rng.pick<Record<string, string>>([
      { authorization: 'Bearer esk_fuzz_not_a_key' },
      { authorization: `Bearer ${apiKey}x` },
      { authorization: 'Bearer ecs.%00' },
      { authorization: `Bearer ecs.${projectId}.${'A'.repeat(6000)}` },
      { authorization: 'Basic Zm9vOmJhcg==' },
      { cookie: 'estars_session=%00', 'x-csrf-token': '%00' },
      { cookie: 'estars_session=%E0%A4%A', 'x-csrf-token': operatorSession.csrf },
      { cookie: `estars_session=${operatorSession.token}` },
      { cookie: `estars_session=${operatorSession.token}`, authorization: `Bearer ${apiKey}` },
      {
        authorization: `Bearer ${customerToken}`,
        cookie: `estars_session=${operatorSession.token}`,
      },
      {},
    ])
  switch (auth) {
    case 'bot':
      return { authorization: `Bearer ${apiKey}` }
    case 'operator':
      return {
        cookie: `estars_session=${encodeURIComponent(operatorSession.token)}`,
        'x-csrf-token': operatorSession.csrf,
      }
    case 'customer':
      return { authorization: `Bearer ${customerToken}` }
    case 'none':
      return {}
  }
}

interface Answer {
  status: number
  /** Per call: the HTTP status of each item (a batch answers one per procedure). */
  statuses: number[]
  text: string
}

/** HTTP-level oddities: another method, another content type, a body or query not built from an input. */
interface Oddity {
  method?: string
  contentType?: string
  rawBody?: string | Uint8Array
  rawQuery?: string
}

/** Node's default `maxHeaderSize`: a longer request line is refused before any route sees it. */
const MAX_HEADER_BYTES = 16 * 1024

async function send(
  procedures: Procedure[],
  inputs: unknown[],
  headers: Record<string, string>,
  options: { batch: boolean; odd?: Oddity | undefined },
): Promise<Answer> {
  const odd = options.odd ?? {}
  const paths = procedures.map((p) => p.path).join(',')
  const method = odd.method ?? (procedures.every((p) => p.type === 'query') ? 'GET' : 'POST')
  const payload = options.batch
    ? toJson(Object.fromEntries(inputs.map((input, i) => [String(i), input])))
    : inputs[0] === undefined
      ? undefined
      : toJson(inputs[0])
  const params = new URLSearchParams()
  if (options.batch) params.set('batch', '1')
  if (method === 'GET' && payload !== undefined) params.set('input', payload)
  const query = odd.rawQuery !== undefined ? `?${odd.rawQuery}` : params.size ? `?${params}` : ''
  const withBody = method !== 'GET' && method !== 'HEAD'
  const url = `${server.url}/trpc/${paths}${query}`
  let response: Response
  try {
    response = await fetch(url, {
      method,
      headers: {
        ...(withBody ? { 'content-type': odd.contentType ?? 'application/json' } : {}),
        ...headers,
      },
      ...(withBody ? { body: odd.rawBody ?? payload ?? '' } : {}),
    })
  } catch (error) {
    // A request line past Node's header limit (16 KiB) is answered 431 and the socket closed
    // while the client is still writing megabytes of URL: the client sees the reset, not the 431.
    // That is the refusal of an oversized request, not a missing answer.
    if (
      url.length > MAX_HEADER_BYTES &&
      /ECONNRESET|EPIPE|other side closed|SocketError/.test(String((error as Error).cause ?? error))
    )
      return { status: 431, statuses: procedures.map(() => 431), text: '' }
    throw error
  }
  const text = await response.text()
  let statuses = [response.status]
  try {
    const body = JSON.parse(text) as unknown
    const items = Array.isArray(body) ? body : [body]
    statuses = items.map((item: { error?: { data?: { httpStatus?: number } } }) =>
      item?.error ? (item.error.data?.httpStatus ?? response.status) : 200,
    )
    if (!Array.isArray(body)) statuses = [response.status]
  } catch {
    // Not JSON (Node's own 431, say): the HTTP status is the answer.
  }
  return { status: response.status, statuses, text }
}

/** Values the server handed out, by the field of an input they fit. */
const pools = new Pools()
/** Invoice payloads with the price they were issued at, so payments can be recorded. */
const invoices = new Map<string, number>()

const ID_FIELDS: Record<string, string> = {
  'payments.subscriptions': 'subscriptionId',
  'reconcile.findings': 'findingId',
  'operator.reconciliation.findings': 'findingId',
  'reconcile.runs': 'runId',
  'operator.reconciliation.runs': 'runId',
  'entitlements.list': 'entitlementId',
  'operator.customers.grantEntitlement': 'entitlementId',
  'operator.apiKeys.create': 'keyId',
}
const HARVESTED = [
  'holdId',
  'reservationId',
  'subscriptionId',
  'runId',
  'findingId',
  'entitlementId',
  'telegramPaymentChargeId',
  'telegramUserId',
]

function harvest(path: string, value: unknown, depth = 0) {
  if (depth > 6 || value === null || typeof value !== 'object') return
  if (Array.isArray(value)) {
    for (const item of value.slice(0, 20)) harvest(path, item, depth + 1)
    return
  }
  const record = value as Record<string, unknown>
  for (const [key, v] of Object.entries(record)) {
    if (HARVESTED.includes(key) && (typeof v === 'string' || typeof v === 'number') && v !== DORA)
      pools.add(key, v)
    if (key === 'telegram_payment_charge_id' && typeof v === 'string')
      pools.add('telegramPaymentChargeId', v)
    if (key === 'nextCursor' && typeof v === 'string') pools.add('cursor', v)
    if (key === 'id' && ID_FIELDS[path] && v !== apiKeyId) pools.add(ID_FIELDS[path]!, v)
    if (key === 'key' && typeof v === 'string' && path.endsWith('products.list'))
      pools.add('productKey', v)
    if (key === 'key' && typeof v === 'string' && path.endsWith('features.list'))
      pools.add('feature', v)
    if (key === 'sendInvoice' && v && typeof v === 'object') {
      const invoice = v as { payload?: string; prices?: { amount: number }[] }
      if (invoice.payload && invoice.prices?.[0]) {
        invoices.set(invoice.payload, invoice.prices[0].amount)
        pools.add('invoice_payload', invoice.payload)
      }
    }
    harvest(path, v, depth + 1)
  }
}

const hints: Hints = (field, rng) => {
  const pooled = (name: string) => {
    const pool = pools.get(name)
    return pool.length && rng.chance(0.8) ? rng.pick(pool) : noHint
  }
  switch (field) {
    case 'projectId':
      return rng.chance(0.95) ? projectId : noHint
    case 'telegramUserId':
      return rng.chance(0.8) ? rng.pick([ALICE, ALICE, BOB, CAROL]) : pooled('telegramUserId')
    case 'amount':
    case 'quantity':
      return rng.chance(0.7) ? rng.int(1, 40) : noHint
    case 'idempotencyKey': {
      const reused = pooled('idempotencyKey')
      if (reused !== noHint && rng.chance(0.3)) return reused
      const key = `fz-${rng.uuid()}`
      pools.add('idempotencyKey', key)
      return key
    }
    case 'productKey':
      return pooled('productKey')
    case 'key':
      // A new key now and then, so products and features get created, not only found taken.
      if (rng.chance(0.3)) return `fz_${rng.int(1, 10_000)}`
      return rng.chance(0.5) ? pooled('productKey') : pooled('feature')
    case 'feature':
    case 'featureKey':
      return pooled('feature')
    case 'holdId':
    case 'reservationId':
    case 'subscriptionId':
    case 'findingId':
    case 'runId':
    case 'keyId':
    case 'entitlementId':
    case 'telegramPaymentChargeId':
    case 'cursor':
    case 'invoice_payload':
      return pooled(field)
    case 'telegram_payment_charge_id':
      return rng.chance(0.5) ? pooled('telegramPaymentChargeId') : `fz-charge-${rng.uuid()}`
    case 'currency':
      return 'XTR'
    case 'email':
      return rng.chance(0.7) ? server.demoOperator!.email : noHint
    case 'password':
      return rng.chance(0.2) ? server.demoOperator!.password : noHint
    case 'initData':
      return signInitData(
        { id: rng.pick([ALICE, BOB, CAROL]), first_name: 'Fuzz', is_bot: false },
        rng.chance(0.9) ? botToken : `${botToken}0`,
      )
    case 'botToken':
      return rng.chance(0.5) ? botToken : noHint
    // A console period: the last weeks (the overview refuses more than 400 days).
    case 'from':
      return rng.chance(0.7)
        ? new Date(Date.now() - rng.int(1, 90) * 86_400_000).toISOString()
        : noHint
    case 'to':
      return rng.chance(0.7)
        ? new Date(Date.now() + rng.int(0, 3) * 86_400_000).toISOString()
        : noHint
    case 'relayTarget':
      return rng.chance(0.8) ? `https://bot.example.test/hook/${rng.int(1, 9)}` : null
    case 'timeZone':
      return rng.pick(['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'])
    default:
      return noHint
  }
}

/** Payments name a real invoice most of the time, at its price, so they reach the grant. */
function withKnownInvoice(input: unknown, rng: Rng): unknown {
  if (!input || typeof input !== 'object') return input
  for (const key of ['successfulPayment', 'refundedPayment', '']) {
    const part = (key ? (input as Record<string, unknown>)[key] : input) as
      | Record<string, unknown>
      | undefined
    if (!part || typeof part !== 'object' || typeof part.invoice_payload !== 'string') continue
    const price = invoices.get(part.invoice_payload)
    if (price !== undefined && rng.chance(0.8)) part.total_amount = price
  }
  return input
}

function validInput(procedure: Procedure, rng: Rng): unknown {
  if (!procedure.schema) return rng.chance(0.9) ? undefined : {}
  return withKnownInvoice(generate(procedure.schema, rng, hints), rng)
}

interface FuzzInput {
  input: unknown
  /** The field that carries text the rule refuses everywhere: any 2xx is then a defect. */
  forbidden: string | null
}

function hostileInput(procedure: Procedure, rng: Rng): FuzzInput {
  let input = validInput(procedure, rng)
  const paths = fieldPaths(procedure.schema)
  if (paths.length === 0 || rng.chance(0.15))
    return { input: wrongShape(input, rng), forbidden: null }
  const replaced: string[][] = []
  for (let n = rng.chance(0.2) ? 2 : 1; n > 0; n--) {
    const field = rng.pick(paths)
    input = withValueAt(input, field.path, hostileFor(field.schema, rng))
    replaced.push(field.path)
  }
  // What the fields hold in the end (a second replacement may have overwritten the first).
  const forbidden = replaced.find((path) => forbiddenText(valueAt(input, path)))
  return { input, forbidden: forbidden?.join('.') ?? null }
}

const RAW_BODIES: (string | Uint8Array)[] = [
  '',
  'not json',
  '{',
  '{"a":',
  '\u0000',
  'null',
  '"\\ud800"',
  '{"telegramUserId":1e999}',
  new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
  new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0x80, 0x22, 0x7d]),
  new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
]

const RAW_QUERIES = [
  'input=not-json',
  'input=%00',
  'input=%7B',
  'input=%22%5Cud800%22',
  'batch=1&input=%7B%220%22%3A1%7D',
  'batch=1&input=%5B1%5D',
  'batch=2',
  'batch=1',
  'input=1&input=2',
  `input=${encodeURIComponent(`${'['.repeat(3000)}${']'.repeat(3000)}`)}`,
]

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=fuzz',
  'application/octet-stream',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
]

function oddity(first: Procedure, batch: boolean, rng: Rng): Oddity {
  const roll = rng.next()
  if (roll < 0.25) return { method: rng.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']) }
  if (roll < 0.4) return { method: first.type === 'query' ? 'POST' : 'GET' }
  if (first.type === 'query' && !batch) return { rawQuery: rng.pick(RAW_QUERIES) }
  if (roll < 0.7) return { contentType: rng.pick(CONTENT_TYPES) }
  return {
    rawBody: rng.pick(RAW_BODIES),
    ...(rng.chance(0.3) ? { contentType: rng.pick(CONTENT_TYPES) } : {}),
  }
}

interface Failure {
  kind: '5xx' | 'no answer' | 'write on refusal' | 'accepted forbidden text'
  paths: string[]
  statuses: number[]
  input: string
  detail: string
}

interface Tally {
  inputs: number
  requests: number
  ok: number
  refused: number
  byProcedure: Map<string, { calls: number; ok: number; ms: number }>
  byAuth: Map<Auth, number>
}

async function restoreAfter(paths: string[], statuses: number[]) {
  for (const [i, path] of paths.entries()) {
    if (statuses[i] !== 200) continue
    if (path === 'operator.auth.logout') await operatorLogin()
    if (path === 'me.signOut') await customerSignIn()
    if (path === 'operator.settings.setBotToken')
      await setBotToken(database.db, { projectId, botToken, secrets: createSecrets(secretKey) })
  }
}

async function fuzz(seed: number, inputs: number) {
  const rng = new Rng(seed)
  const procedures = proceduresOf(appRouter)
  const failures: Failure[] = []
  const tally: Tally = {
    inputs: 0,
    requests: 0,
    ok: 0,
    refused: 0,
    byProcedure: new Map(procedures.map((p) => [p.path, { calls: 0, ok: 0, ms: 0 }])),
    byAuth: new Map(),
  }
  let order: Procedure[] = []
  while (tally.inputs < inputs) {
    if (order.length === 0) order = [...procedures].sort(() => rng.next() - 0.5)
    const first = order.pop()!
    const roll = rng.next()
    let batch = false
    let chosen = [first]
    if (roll > 0.93) {
      batch = true
      const size = rng.chance(0.1) ? rng.int(101, 140) : rng.int(2, 6)
      const sameType = procedures.filter((p) => p.type === first.type)
      chosen = [first, ...Array.from({ length: size - 1 }, () => rng.pick(sameType))]
    }
    const generated = chosen.map((p) =>
      rng.chance(0.3) ? { input: validInput(p, rng), forbidden: null } : hostileInput(p, rng),
    )
    const callInputs = generated.map((g) => g.input)
    const auth = authOf(first.path)
    const mangled = rng.chance(0.03)
    const headers = headersFor(auth, rng, mangled)
    const odd = rng.chance(0.04) ? oddity(first, batch, rng) : undefined
    const paths = chosen.map((p) => p.path)
    // A batch over the limit is refused whole, before any of its calls is read: one input.
    const counted = chosen.length > 100 ? 1 : chosen.length
    const shown = `${odd ? `${toJson({ ...odd, rawBody: odd.rawBody && String(odd.rawBody) })} ` : ''}${describeInput(batch ? callInputs : callInputs[0])}`
    const logged = serverErrors.length
    const before = await lastWrite()
    let answer: Answer
    const sent = performance.now()
    try {
      answer = await send(chosen, callInputs, headers, { batch, odd })
    } catch (error) {
      failures.push({
        kind: 'no answer',
        paths,
        statuses: [],
        input: shown,
        detail: String((error as Error).cause ?? error),
      })
      tally.inputs += counted
      continue
    }
    tally.inputs += counted
    tally.requests++
    tally.byAuth.set(auth, (tally.byAuth.get(auth) ?? 0) + 1)
    for (const [i, path] of paths.entries()) {
      const entry = tally.byProcedure.get(path)!
      entry.calls++
      entry.ms += (performance.now() - sent) / paths.length
      if (answer.statuses[i] === 200 || (answer.statuses.length === 1 && answer.status === 200))
        entry.ok++
    }
    if (answer.status >= 500 || answer.statuses.some((s) => s >= 500)) {
      const causes = serverErrors
        .slice(logged)
        .map((e) => `${e.msg}: ${JSON.stringify(e.obj, null, 1)?.slice(0, 2000)}`)
      failures.push({
        kind: '5xx',
        paths,
        statuses: answer.statuses,
        input: shown,
        detail: `${answer.text.slice(0, 300)}\n${causes.join('\n').slice(0, 3000)}`,
      })
    }
    if (!odd && !mangled && (!batch || chosen.length <= 100))
      for (const [i, g] of generated.entries()) {
        const status = batch ? answer.statuses[i] : answer.status
        if (g.forbidden && status !== undefined && status < 300)
          failures.push({
            kind: 'accepted forbidden text',
            paths: [paths[i]!],
            statuses: [status],
            input: describeInput(g.input),
            detail: `field ${g.forbidden} holds a control character or a lone surrogate`,
          })
      }
    if (DEBUG && !batch && answer.status >= 400)
      console.log(
        `refused ${first.path} ${answer.status} ${shown.slice(0, 300)}\n  ${answer.text.slice(0, 300)}`,
      )
    const refused = answer.statuses.every((s) => s >= 400 && s < 500)
    if (refused) tally.refused++
    else tally.ok++
    const after = await lastWrite()
    if (refused && after > before) {
      const changes = netChanges(
        (await writesAfter(before)).filter((w) => !writeAllowedOnRefusal(paths, answer, w)),
      )
      if (changes.length)
        failures.push({
          kind: 'write on refusal',
          paths,
          statuses: answer.statuses,
          input: shown,
          detail: changes.join(', '),
        })
    }
    if (!refused) {
      try {
        const body = JSON.parse(answer.text) as unknown
        for (const [i, item] of (Array.isArray(body) ? body : [body]).entries())
          harvest(paths[i] ?? first.path, item)
      } catch {
        // Nothing to learn from a body that is not JSON.
      }
      await restoreAfter(paths, answer.statuses)
    }
  }
  return { failures, tally }
}

function report(failures: Failure[]) {
  // One line per distinct failure (kind, procedure, status, first line of the cause).
  const distinct = new Map<string, Failure & { count: number }>()
  for (const f of failures) {
    const key = `${f.kind} ${f.paths[0]} ${f.statuses.join(',')} ${f.detail.split('\n')[1]?.slice(0, 120) ?? ''}`
    const seen = distinct.get(key)
    if (seen) seen.count++
    else distinct.set(key, { ...f, count: 1 })
  }
  return [...distinct.values()]
    .map(
      (f) =>
        `${f.kind} ×${f.count} ${f.paths.slice(0, 3).join(',')}${f.paths.length > 3 ? ',…' : ''} [${f.statuses.slice(0, 6).join(',')}]\n  input: ${f.input}\n  ${f.detail.replaceAll('\n', '\n  ')}`,
    )
    .join('\n\n')
}

beforeAll(async () => {
  sandbox = await createSandbox({
    users: [
      { id: ALICE, firstName: 'Alice', username: 'alice' },
      { id: BOB, firstName: 'Bob' },
      { id: CAROL, firstName: 'Carol' },
      { id: DORA, firstName: 'Dora' },
    ],
  })
  secretKey = generateSecretKey()
  database = await createTestDatabase()
  server = await startServer(
    parseEnv({
      PORT: '0',
      SECRET_KEY: secretKey,
      TELEGRAM_API_ROOT: sandbox.apiRoot,
      RECONCILE_INTERVAL_SECONDS: '0',
      // No background writes during the run: every write belongs to the call that made it.
      EXPIRY_INTERVAL_SECONDS: '3600',
      LOG_LEVEL: 'silent',
    }),
    logger,
    { database },
  )
  projectId = server.demoProjectId!
  await seedDemoCatalog(database.db, projectId)
  await seedDemoFeatures(database.db, projectId)
  botToken = sandbox.bot().token
  await setBotToken(database.db, { projectId, botToken, secrets: createSecrets(secretKey) })
  const key = await createApiKey(database.db, { projectId, name: 'fuzz' })
  apiKey = key.key
  apiKeyId = key.id
  await operatorLogin()
  await customerSignIn()
  for (const telegramUserId of [ALICE, BOB, CAROL, DORA])
    await post(
      'credits.grant',
      {
        telegramUserId,
        amount: 10_000,
        reason: 'Fuzz float',
        idempotencyKey: `seed-${telegramUserId}`,
      },
      { authorization: `Bearer ${apiKey}` },
    )
  // A feature the Mini App user may consume itself (me.consume), defined through the console.
  const defined = await post(
    'operator.features.define',
    {
      projectId,
      key: 'wallpaper',
      name: 'Wallpaper',
      kind: 'metered',
      credits: 1,
      clientConsumable: true,
    },
    {
      cookie: `estars_session=${encodeURIComponent(operatorSession.token)}`,
      'x-csrf-token': operatorSession.csrf,
    },
  )
  if (defined.status !== 200)
    throw new Error(`feature setup failed: ${JSON.stringify(defined.body)}`)
  for (const path of ['products.list', 'features.list']) {
    const response = await fetch(`${server.url}/trpc/${path}`, {
      headers: { authorization: `Bearer ${apiKey}` },
    })
    harvest(path, await response.json())
  }
  await installWriteLog(database.db)
}, 120_000)

afterAll(async () => {
  await server?.close()
  await sandbox?.close()
})

describe(`fuzz of every procedure (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  it('the write log sees a write and the harness can tell a refusal from a success', async () => {
    const before = await lastWrite()
    const granted = await post(
      'credits.grant',
      { telegramUserId: BOB, amount: 1, reason: 'Probe', idempotencyKey: `probe-${SEED}` },
      { authorization: `Bearer ${apiKey}` },
    )
    expect(granted.status).toBe(200)
    expect(await lastWrite()).toBeGreaterThan(before)
    const tables = new Set((await writesAfter(before)).map((w) => w.tbl))
    expect(tables).toContain('ledger_entries')
    expect(netChanges(await writesAfter(before))).toContain('inserted into ledger_entries')
    const mark = await lastWrite()
    const refused = await post(
      'credits.grant',
      { telegramUserId: BOB, amount: 1, reason: 'a\u0000b', idempotencyKey: `probe-nul-${SEED}` },
      { authorization: `Bearer ${apiKey}` },
    )
    expect(refused.status).toBe(400)
    expect(await lastWrite()).toBe(mark)
  })

  it('counts a row put back as it was as no write, and anything else as one', () => {
    const w = (op: Write['op'], old_row: string | null, new_row: string | null): Write => ({
      tbl: 'payments',
      op,
      old_row,
      new_row,
    })
    expect(
      netChanges([w('UPDATE', '{"r":null}', '{"r":"x"}'), w('UPDATE', '{"r":"x"}', '{"r":null}')]),
    ).toEqual([])
    expect(netChanges([w('INSERT', null, '{"id":1}'), w('DELETE', '{"id":1}', null)])).toEqual([])
    expect(netChanges([w('UPDATE', '{"r":null}', '{"r":"x"}')])).toEqual(['updated payments'])
    expect(netChanges([w('DELETE', '{"id":2}', null)])).toEqual(['deleted from payments'])
    expect(netChanges([w('INSERT', null, '{"id":3}')])).toEqual(['inserted into payments'])
  })

  it(
    `answers ${INPUTS} generated and hostile inputs without a 5xx and writes nothing on a refusal (seed ${SEED})`,
    async () => {
      const started = performance.now()
      const { failures, tally } = await fuzz(SEED, INPUTS)
      const seconds = ((performance.now() - started) / 1000).toFixed(1)
      const fivexx = failures.filter((f) => f.kind === '5xx' || f.kind === 'no answer').length
      const writes = failures.filter((f) => f.kind === 'write on refusal').length
      console.log(
        `fuzz: ${tally.inputs} inputs in ${tally.requests} requests over ${tally.byProcedure.size} procedures, ` +
          `${tally.ok} answered, ${tally.refused} refused, ${fivexx} 5xx or no answer, ` +
          `${writes} writes on refusal, ${failures.length - fivexx - writes} forbidden texts accepted, ${seconds} s, seed ${SEED} (FUZZ_SEED=${SEED} to replay), ` +
          `${onPostgres ? 'PostgreSQL' : 'PGlite'}`,
      )
      // Every procedure was called, and credentials worked (a fuzz that only meets 401s proves nothing).
      const slowest = [...tally.byProcedure]
        .sort((a, b) => b[1].ms - a[1].ms)
        .slice(0, 8)
        .map(([p, t]) => `${p} ${Math.round(t.ms)} ms/${t.calls}`)
      console.log(`slowest: ${slowest.join(', ')}`)
      const neverAnswered = [...tally.byProcedure].filter(([, t]) => t.ok === 0).map(([p]) => p)
      console.log(`never answered 2xx: ${neverAnswered.join(', ') || 'none'}`)
      const uncalled = [...tally.byProcedure].filter(([, t]) => t.calls === 0).map(([p]) => p)
      expect(uncalled, `procedures never called (seed ${SEED})`).toEqual([])
      for (const auth of ['bot', 'operator', 'customer', 'none'] as const)
        expect(tally.byAuth.get(auth) ?? 0, `calls as ${auth}`).toBeGreaterThan(0)
      const answered = [...tally.byProcedure].filter(([, t]) => t.ok > 0).length
      expect(answered, 'procedures that answered at least one call').toBeGreaterThan(
        tally.byProcedure.size / 2,
      )
      expect(failures.length, `seed ${SEED}:\n${report(failures)}`).toBe(0)
    },
    // Calls run one at a time: allow 100 ms each on a loaded machine, and 10 minutes at least.
    Math.max(10 * 60_000, INPUTS * 100),
  )

  it('leaves a ledger whose hash chains and balances verify clean', async () => {
    const verification = await verifyLedger(database.db)
    expect(verification.entries).toBeGreaterThan(0)
    expect(verification.findings).toEqual([])
  }, 120_000)
})
