/**
 * What a database error means, in one place: whether the database is unreachable (answer a
 * retryable SERVICE_UNAVAILABLE, never a 500), and how to log an error without the SQL
 * parameters it carries (drizzle's `DrizzleQueryError` puts `query` and `params` in its message
 * and fields; postgres.js errors carry `query`, `parameters` and `args`).
 */

/** How long a caller should wait before retrying while the database is unavailable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 1

/** Socket-level failures: the server is down, restarting, or the network is gone. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
])

/** postgres.js's own connection errors (`Errors.connection` in its src/errors.js). */
const DRIVER_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
])

/**
 * SQLSTATEs that mean "this connection or server is going away or not ready yet", not "your
 * statement is wrong": class 08 (connection exception), admin/crash shutdown, cannot connect now
 * (starting up or shutting down), idle-session timeout, too many connections.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P05', '53300'])

const CONNECTION_MESSAGE =
  /\bconnection (?:terminated|ended|closed)\b|terminating connection|PGlite is clos(?:ed|ing)/i

const MAX_DEPTH = 8

/** The error, its `cause`s and an AggregateError's `errors`, outermost first, cycle-safe. */
export function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = []
  const pending: { value: unknown; depth: number }[] = [{ value: error, depth: 0 }]
  const seen = new Set<unknown>()
  while (pending.length > 0) {
    const { value, depth } = pending.shift()!
    if (value === undefined || value === null || seen.has(value) || depth > MAX_DEPTH) continue
    seen.add(value)
    chain.push(value)
    if (typeof value !== 'object') continue
    const { cause, errors } = value as { cause?: unknown; errors?: unknown }
    if (cause !== undefined) pending.push({ value: cause, depth: depth + 1 })
    if (Array.isArray(errors))
      for (const inner of errors) pending.push({ value: inner, depth: depth + 1 })
  }
  return chain
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[name]
    : undefined
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined)
const isSqlState = (code: string | undefined): code is string =>
  code !== undefined && /^[0-9A-Z]{5}$/.test(code)

function unreachable(link: unknown): boolean {
  const code = text(field(link, 'code'))
  if (code !== undefined) {
    if (SOCKET_CODES.has(code) || DRIVER_CODES.has(code)) return true
    // A Unix socket that is gone while the server is down.
    if (code === 'ENOENT' && field(link, 'syscall') === 'connect') return true
    if (isSqlState(code) && (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code))) return true
    if (isSqlState(code)) return false
  }
  // drizzle's message carries the parameters, which may say anything.
  if (isDrizzleQueryError(link)) return false
  const message = text(field(link, 'message'))
  return message !== undefined && CONNECTION_MESSAGE.test(message)
}

/**
 * True when the error (or anything in its cause chain) says the database cannot be reached right
 * now: refused or reset connections, a server shutting down or starting up, postgres.js's
 * CONNECTION_* errors, drizzle's DrizzleQueryError around any of those. The call may be retried
 * with the same idempotency key.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return causeChain(error).some(unreachable)
}

/** A PostgreSQL server error as postgres.js (or PGlite) reports it: a SQLSTATE and a severity. */
function isServerError(link: unknown): boolean {
  return isSqlState(text(field(link, 'code'))) && typeof field(link, 'severity') === 'string'
}

/** The link of the chain that says what went wrong in the database, if any. */
function databaseLink(chain: unknown[]): unknown {
  return chain.find(isServerError) ?? chain.find(unreachable)
}

const typeOf = (value: unknown): string => {
  if (value instanceof Error) return value.constructor?.name || value.name || 'Error'
  if (typeof value === 'object' && value !== null)
    return (value as object).constructor?.name ?? 'Object'
  return typeof value
}

/**
 * A constraint violation's detail names the key and its values, e.g.
 * `Key (project_id, key_hash)=(…, 4f1c…) already exists.`; keep the columns, drop the values.
 */
export function redactDetail(detail: string): string | undefined {
  const key = /^Key \(([^)]*)\)=\(/.exec(detail)
  if (key) {
    const tail =
      / already exists\.$/.exec(detail)?.[0] ??
      / is not present in table "[^"]*"\.$/.exec(detail)?.[0] ??
      / is still referenced from table "[^"]*"\.$/.exec(detail)?.[0] ??
      (detail.includes(' conflicts with existing key') ? ' conflicts with an existing key.' : '')
    return `Key (${key[1]})=(…)${tail}`
  }
  if (detail.startsWith('Failing row contains')) return 'Failing row contains (…).'
  // Anything else is kept only when it cannot be quoting a value (deadlock details are plain).
  return /["'()=]/.test(detail) ? undefined : detail
}

/** Data exceptions (class 22) quote the offending input: `invalid input syntax for type uuid: "…"`. */
function redactMessage(message: string, code: string | undefined): string {
  return code?.startsWith('22') ? message.replace(/"(?:[^"]|"")*"/g, '"…"') : message
}

function describeDatabaseError(link: unknown, chain: unknown[]): Record<string, unknown> {
  const code = text(field(link, 'code'))
  const type = typeOf(link)
  const out: Record<string, unknown> = {
    // PGlite's error class is minified (`O`): name it after what it is.
    type: isServerError(link) && type.length < 3 ? 'DatabaseError' : type,
    message: redactMessage(text(field(link, 'message')) ?? String(link), code),
  }
  if (code !== undefined) out.code = code
  const severity = text(field(link, 'severity'))
  if (severity) out.severity = severity
  // postgres.js names them after the protocol (`table_name`), PGlite like node-postgres (`table`).
  const facts: [string, string, string][] = [
    ['schema_name', 'schema', 'schema'],
    ['table_name', 'table', 'table'],
    ['column_name', 'column', 'column'],
    ['data_type_name', 'dataType', 'dataType'],
    ['constraint_name', 'constraint', 'constraint'],
    ['routine', 'routine', 'routine'],
    ['hint', 'hint', 'hint'],
  ]
  for (const [driver, pglite, to] of facts) {
    const value = text(field(link, driver)) ?? text(field(link, pglite))
    if (value) out[to] = value
  }
  const detail = text(field(link, 'detail'))
  if (detail) {
    const safe = redactDetail(detail)
    if (safe) out.detail = safe
    else out.detailRedacted = true
  }
  // Where a connection error pointed (host and port, never credentials).
  const address = text(field(link, 'address'))
  if (address && !isServerError(link)) out.address = address
  const port = field(link, 'port')
  if ((typeof port === 'number' || typeof port === 'string') && !isServerError(link))
    out.port = port
  const wrappers = chain.slice(0, chain.indexOf(link)).map(typeOf)
  if (wrappers.length > 0) out.wrappedBy = wrappers
  if (unreachable(link)) {
    // One line per refused call while the database is down: the code says it all, no stack.
    out.unavailable = true
    return out
  }
  // postgres.js's stack is its message plus the frames of the call site; no parameters.
  const stack = text(field(link, 'stack'))
  if (stack) out.stack = redactMessage(stack, code)
  return out
}

/** drizzle's wrapper: `Failed query: <sql>\nparams: <values>`; its message and stack leak params. */
function isDrizzleQueryError(value: unknown): boolean {
  return (
    value instanceof Error &&
    (value.constructor?.name === 'DrizzleQueryError' || value.message.startsWith('Failed query: '))
  )
}

/** A plain object shaped like this serializer's output (a copy of one, after a redaction pass). */
function isSerialized(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || value instanceof Error) return false
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  const { type, message } = value as { type?: unknown; message?: unknown }
  return typeof type === 'string' && typeof message === 'string'
}

function describeOther(value: unknown, depth: number): Record<string, unknown> {
  if (!(value instanceof Error)) {
    // Anything else thrown: its type only, a plain object may hold anything.
    if (typeof value === 'object' && value !== null) return { type: typeOf(value) }
    return { type: typeof value, message: String(value).slice(0, 500) }
  }
  const drizzle = isDrizzleQueryError(value)
  const out: Record<string, unknown> = {
    type: typeOf(value),
    // The SQL text stays out too: a statement may inline values.
    message: drizzle ? 'Failed query' : value.message,
  }
  const code = field(value, 'code')
  if (typeof code === 'string' || typeof code === 'number') out.code = code
  if (!drizzle && value.stack) out.stack = value.stack
  const cause = field(value, 'cause')
  if (cause !== undefined && depth < 4) out.cause = describe(cause, depth + 1)
  if (value instanceof AggregateError && depth < 4)
    out.errors = value.errors.slice(0, 5).map((inner: unknown) => describe(inner, depth + 1))
  return out
}

const produced = new WeakSet<object>()

function describe(error: unknown, depth: number): Record<string, unknown> {
  if ((typeof error === 'object' && error !== null && produced.has(error)) || isSerialized(error))
    return error as Record<string, unknown>
  const chain = causeChain(error)
  const link = databaseLink(chain)
  const out = link !== undefined ? describeDatabaseError(link, chain) : describeOther(error, depth)
  produced.add(out)
  return out
}

/**
 * One serializer for every error the server logs (pino's `err`): a database error becomes its
 * type, SQLSTATE, severity, schema/table/column/constraint, a redacted detail and its message,
 * found anywhere in the cause chain; never the SQL text or its parameters. Other errors keep
 * their type, message, code, stack and causes. Idempotent: an object it produced passes through.
 */
export function serializeError(error: unknown): Record<string, unknown> {
  return describe(error, 0)
}
