import { z } from 'zod'
import { parseTrustProxy, trustProxyProblem } from './client-address.ts'

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' })
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /** How long start-up waits for PostgreSQL to answer before it gives up on DATABASE_URL. */
  DATABASE_CONNECT_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(300).default(10),
  DATA_DIR: z.string().min(1).default('./.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Which requests get their line at `info` (request-log.ts): `failed` (default) the 4xx at info
   * and the 5xx and slow ones at warn, every other at `debug`; `all` every request at info (an
   * access log), failed and slow ones still at warn.
   */
  LOG_REQUESTS: z.enum(['failed', 'all']).default('failed'),
  /** A request that takes this long is logged at warn, whatever its status. */
  SLOW_REQUEST_MS: z.coerce.number().int().min(1).max(600_000).default(1000),
  EXPIRY_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(15),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  /**
   * 32+ bytes, hex or base64: signs invoice payloads and encrypts bot tokens. Required with
   * DATABASE_URL; the embedded demo generates one into DATA_DIR/secret.key.
   */
  SECRET_KEY: z
    .string()
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /** During a rotation, the key before SECRET_KEY: read with either, write with SECRET_KEY. */
  SECRET_KEY_PREVIOUS: z
    .string()
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /** The Telegram Bot API server; the sandbox's apiRoot in tests and the demo. */
  TELEGRAM_API_ROOT: z
    .url({ protocol: /^https?$/, error: 'must be an http(s):// URL' })
    .default('https://api.telegram.org'),
  /** How often every project with a bot token is reconciled with Telegram; 0 turns it off. */
  RECONCILE_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(600),
  /** How often the webhook relay forwards stored updates (it also forwards at once on arrival). */
  RELAY_FORWARD_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  /** A forward in flight belongs to its replica this long; after a crash it is retried after it. */
  RELAY_LEASE_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** A webhook delivery in flight belongs to its replica this long (each attempt: half of it). */
  WEBHOOK_LEASE_MS: z.coerce.number().int().min(1000).max(600_000).default(60_000),
  /** How often each replica looks for webhook deliveries that are due. */
  WEBHOOK_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(2000),
  /**
   * A little history (customers, payments, usage) in the demo project on a first start. `auto`:
   * only for the embedded database the server opens itself (the zero-configuration demo).
   */
  DEMO_DATA: z.enum(['auto', 'on', 'off']).default('auto'),
  /** The built console (apps/console/dist by default); served at / when it exists. */
  CONSOLE_DIR: z.string().min(1).optional(),
  /**
   * `true`/`false` forces the Secure flag on the session cookie; `auto`: Secure when the request is
   * https, as the socket or a trusted proxy (TRUST_PROXY) says.
   */
  COOKIE_SECURE: z.enum(['auto', 'true', 'false']).default('auto'),
  /** The built reference Mini App (apps/miniapp/dist by default); served at /miniapp/ when it exists. */
  MINIAPP_DIR: z.string().min(1).optional(),
  /**
   * Mini App sign-in refuses Telegram init data older than this (a replayed one). 24 h by default:
   * a Mini App left open for a day can still sign in again; lower it to narrow replays.
   */
  MINIAPP_INIT_DATA_MAX_AGE_SECONDS: z.coerce.number().int().min(60).max(604_800).default(86_400),
  /** Lifetime of a Mini App customer token; the app signs in again with its init data after it. */
  MINIAPP_SESSION_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3_600),
  /**
   * Demo mode: start the Telegram sandbox in this process and point TELEGRAM_API_ROOT and the
   * console's Sandbox page at it. `auto`: on when neither DATABASE_URL nor TELEGRAM_BOT_TOKEN is set.
   */
  SANDBOX: z.enum(['auto', 'on', 'off']).default('auto'),
  SANDBOX_PORT: z.coerce.number().int().min(0).max(65_535).default(8081),
  /**
   * Read only as a signal: set for the reference bot against real Telegram, it turns the demo
   * sandbox off (SANDBOX=auto). The server never uses it; project bot tokens live in the database.
   */
  TELEGRAM_BOT_TOKEN: z.string().optional(),
  /**
   * Which proxies in front of the server are trusted for the client's address and protocol
   * (`X-Forwarded-For`, `X-Forwarded-Proto`): `off` (the default: the socket's peer is the
   * client), a hop count (`1`: one load balancer), or a comma-separated list of proxy addresses
   * or subnets. Every per-IP limit, the cookie's Secure flag and every loopback check follow it.
   */
  TRUST_PROXY: z
    .string()
    .trim()
    .default('off')
    .superRefine((value, ctx) => {
      const problem = trustProxyProblem(value)
      if (problem)
        ctx.addIssue({
          code: 'custom',
          message: `must be off, a hop count, or a comma-separated list of proxy addresses (${problem})`,
        })
    })
    .transform(parseTrustProxy),
  /**
   * Server-side requests (the relay's forwards, webhooks) to loopback, private, link-local or
   * other non-public addresses. `auto`: allowed only in demo mode (the local sandbox); refused
   * otherwise, so one tenant cannot reach the server's own network.
   */
  ALLOW_PRIVATE_TARGETS: z.enum(['auto', 'on', 'off']).default('auto'),
  /**
   * The control token of the sandbox at SANDBOX_URL (the console's proxy sends it). In demo mode
   * the token the server's own sandbox takes; unset: a random one for each run.
   */
  SANDBOX_TOKEN: z
    .string()
    .min(16, 'at least 16 characters')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /**
   * Demo mode: the token `POST /demo/bootstrap` requires, given to the server and the reference
   * bot by whoever starts both (`pnpm start` / `pnpm dev` make a fresh one each run). Unset: the
   * bootstrap refuses everyone.
   */
  ESTARS_DEMO_TOKEN: z
    .string()
    .min(16, 'at least 16 characters')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /** A sandbox Bot API emulator's base URL: enables the console's Sandbox page. */
  SANDBOX_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s):// URL' })
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /**
   * `/metrics` on the public port for `Authorization: Bearer <METRICS_TOKEN>` only (401
   * otherwise). Unset: the public port has no `/metrics`.
   */
  METRICS_TOKEN: z
    .string()
    .min(16, 'at least 16 characters')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /**
   * A second listener, on HOST, that serves only `/metrics` (no token unless METRICS_TOKEN is
   * set): keep it off the load balancer. Unset: off.
   */
  METRICS_PORT: z.union(
    [
      z.literal('').transform(() => undefined),
      z.coerce.number().int().min(0).max(65_535).optional(),
    ],
    { error: 'must be a port number, 0-65535' },
  ),
  /**
   * On SIGTERM, how long the server keeps accepting while `/readyz` answers 503, so the load
   * balancer stops sending before the port closes. 0 (the default) closes at once.
   */
  DRAIN_DELAY_MS: z.coerce.number().int().min(0).max(120_000).default(0),
  /** On SIGTERM, how long requests in flight may take to finish before their sockets are cut. */
  DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).max(300_000).default(10_000),
})

export type Env = z.infer<typeof schema>

/** A setting that stops start-up; the message is one line that names it. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Parsed once at start-up; nothing else reads `process.env`. */
export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const result = schema.safeParse(source)
  if (result.success) return result.data
  const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
  throw new ConfigError(`Invalid configuration: ${problems}`)
}
