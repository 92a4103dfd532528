import { serializeError as serializeDbError } from '@e-stars/db'
import pino, { type DestinationStream, type Level, type LevelWithSilent } from 'pino'
import { currentRequest } from './request-log.ts'

/**
 * The one place the server's pino logger is built. Two guards keep secrets out of the log:
 * `redact` blanks the fields that carry them, and the `err` serializer never carries SQL text or
 * query parameters (an insert's parameters are password hashes, key hashes, encrypted tokens).
 * Strings of a known secret shape are blanked in messages and errors as a last line.
 */
export function createLogger(
  options: { level?: LevelWithSilent; destination?: DestinationStream } = {},
) {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError, error: serializeError },
      // Every line written while a request is being answered names it (request-log.ts).
      mixin() {
        const request = currentRequest()
        return request ? { requestId: request.requestId } : {}
      },
      hooks: {
        // A message string built by a caller gets the same shape check as an error's message.
        logMethod(args, method) {
          method.apply(
            this,
            args.map((arg) => (typeof arg === 'string' ? scrubSecrets(arg) : arg)) as typeof args,
          )
        },
      },
    },
    options.destination,
  )
}

export type ServerLogger = ReturnType<typeof createLogger>
export type { Level }

/** Field names whose value is a secret, wherever they sit in the first three levels of a log object. */
const SECRET_FIELDS = [
  'password',
  'passwordHash',
  'password_hash',
  'apiKey',
  'api_key',
  'keyHash',
  'key_hash',
  'token',
  'accessToken',
  'sessionToken',
  'botToken',
  'bot_token',
  'botTokenEncrypted',
  'bot_token_encrypted',
  'secret',
  'secretKey',
  'webhookSecret',
  'webhook_secret',
  'initData',
  'authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-admin-token',
  'x-telegram-bot-api-secret-token',
]

const field = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : `["${name}"]`)
const join = (prefix: string, name: string) =>
  name.startsWith('[') ? `${prefix}${name}` : `${prefix}.${name}`

export const REDACT_PATHS = SECRET_FIELDS.flatMap((name) => {
  const f = field(name)
  return [f, join('*', f), join('*.*', f)]
}).concat(['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'])

/**
 * Known secret shapes, blanked wherever they appear in a message or stack: API keys, scrypt
 * password hashes, Telegram bot tokens (also inside `/bot<token>/` URLs).
 */
const SECRET_SHAPES: RegExp[] = [
  /esk_[A-Za-z0-9_-]{8,}/g,
  /scrypt\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+/g,
  /\b\d{5,20}:[A-Za-z0-9_-]{20,}/g,
]

export function scrubSecrets(text: string): string {
  let out = text
  for (const shape of SECRET_SHAPES) out = out.replace(shape, '[redacted]')
  return out
}

/** Every string of a serialized error through `scrubSecrets` (a Telegram URL carries the bot token). */
function scrubbed(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubSecrets(value)
  if (Array.isArray(value)) return value.map((v) => scrubbed(v, depth + 1))
  if (typeof value === 'object' && value !== null && depth < 6)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubbed(v, depth + 1)]))
  return value
}

/**
 * An error as a log field: @e-stars/db's `serializeError` (a database error's code, constraint,
 * table and message from anywhere in the cause chain; never the SQL text or its parameters), with
 * known secret shapes blanked.
 */
export function serializeError(error: unknown): unknown {
  if (typeof error === 'object' && error !== null && produced.has(error)) return error
  const out = scrubbed(serializeDbError(error))
  if (typeof out === 'object' && out !== null) produced.add(out)
  return out
}

/** What `serializeError` returned: a caller that serialized first is not serialized twice. */
const produced = new WeakSet<object>()

/**
 * One line for a person reading a terminal: `Type: message (code, constraint)` from the same
 * facts as `serializeError`, without the stack.
 */
export function describeError(error: unknown): string {
  const facts = serializeError(error)
  if (!facts || typeof facts !== 'object') return String(facts)
  const f = facts as Record<string, unknown>
  const extra = ['code', 'constraint', 'table']
    .map((k) => (f[k] !== undefined ? `${k} ${String(f[k])}` : null))
    .filter(Boolean)
  return `${String(f.type)}: ${String(f.message).replace(/\s*\n\s*/g, ' ')}${
    extra.length > 0 ? ` (${extra.join(', ')})` : ''
  }`
}
