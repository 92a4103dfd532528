import { createHash, createHmac } from 'node:crypto'
import { customerSessions, type Db, type Executor } from '@e-stars/db'
import { parse, validate } from '@tma.js/init-data-node'
import { and, desc, eq, lte, notInArray, sql } from 'drizzle-orm'
import { CustomerBlocked, CustomerSessionInvalid, InitDataRejected } from '../errors.ts'
import { upsertAndLockCustomer } from '../ledger/customers.ts'
import { transact } from '../ledger/transaction.ts'
import { projectBotToken } from './project-telegram.ts'
import type { Secrets } from './secrets.ts'

/** How old init data may be and how long a customer token lives. */
export interface CustomerSessionPolicy {
  /** Init data whose `auth_date` is older is refused (a replay of an old one). */
  initDataMaxAgeSeconds: number
  /** Lifetime of the token `createCustomerSession` returns. */
  tokenTtlSeconds: number
}

/**
 * 24 h for init data (what Telegram's docs and @tma.js use: a Mini App left open for a day still
 * signs in again), 1 h for the token (short: the app re-signs in with its init data when it expires).
 */
export const DEFAULT_CUSTOMER_SESSION_POLICY: CustomerSessionPolicy = {
  initDataMaxAgeSeconds: 86_400,
  tokenTtlSeconds: 3_600,
}

/** Live sessions one customer may hold; signing in once more ends the oldest. */
export const MAX_LIVE_SESSIONS_PER_CUSTOMER = 10

/** Clock skew tolerated on `auth_date` in the future. */
const FUTURE_SKEW_SECONDS = 60
const MAX_INIT_DATA_CHARS = 8_192

/** The Telegram user init data vouches for. */
export interface InitDataUser {
  id: number
  firstName: string
  lastName: string | null
  username: string | null
  languageCode: string | null
  isPremium: boolean
}

export interface VerifiedInitData {
  user: InitDataUser
  authDate: Date
  queryId: string | null
  startParam: string | null
  /** The init data's own `hash`: one per init data, so the same init data maps to one session. */
  hash: string
}

/**
 * The init data as sent, or InitDataRejected when there is none or far too much. Knows nothing of
 * any project, so it can answer before the project is looked up without telling which exist.
 */
export function initDataText(initData: string): string {
  const text = initData.trim().replace(/^[?#]/, '')
  if (text === '') throw new InitDataRejected('missing')
  if (text.length > MAX_INIT_DATA_CHARS) throw new InitDataRejected('malformed')
  return text
}

/**
 * Checks Telegram Mini App init data against a bot token (signature by @tma.js/init-data-node),
 * then its age and its user. Throws InitDataRejected with the reason.
 */
export function verifyInitData(
  initData: string,
  botToken: string,
  options: { maxAgeSeconds: number; now?: Date | undefined },
): VerifiedInitData {
  const text = initDataText(initData)
  try {
    // Age is checked below with an injectable clock; 0 turns the library's own check off.
    validate(text, botToken, { expiresIn: 0 })
  } catch (error) {
    const name = error instanceof Error ? error.name : ''
    throw new InitDataRejected(name === 'SignatureInvalidError' ? 'bad_signature' : 'malformed')
  }
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(text)
  } catch {
    throw new InitDataRejected('malformed')
  }
  const authDate = parsed.auth_date
  const nowMs = (options.now ?? new Date()).getTime()
  const ageSeconds = (nowMs - authDate.getTime()) / 1000
  if (ageSeconds > options.maxAgeSeconds)
    throw new InitDataRejected('expired', authDate.toISOString(), options.maxAgeSeconds)
  if (ageSeconds < -FUTURE_SKEW_SECONDS)
    throw new InitDataRejected('from_future', authDate.toISOString(), options.maxAgeSeconds)
  const user = parsed.user
  if (!user || !Number.isSafeInteger(user.id) || user.id <= 0)
    throw new InitDataRejected('no_user', authDate.toISOString())
  return {
    user: {
      id: user.id,
      firstName: user.first_name,
      lastName: user.last_name ?? null,
      username: user.username ?? null,
      languageCode: user.language_code ?? null,
      isPremium: user.is_premium === true,
    },
    authDate,
    queryId: parsed.query_id ?? null,
    startParam: parsed.start_param ?? null,
    hash: parsed.hash,
  }
}

const TOKEN =
  /^ecs\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.[A-Za-z0-9_-]{43}$/

/** Customer tokens start with this; API keys with `esk_`. */
export const CUSTOMER_TOKEN_PREFIX = 'ecs.'

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex')

/**
 * The customer token for one init data: an HMAC of its `hash` under the bot token that signed it
 * (the init data's own key, which only the server and the bot hold). The same init data always
 * yields the same token, so a replay finds its session instead of adding one; a new init data
 * (Telegram signs one per opening) yields a new token. 256 bits, unguessable without the key.
 */
function customerToken(projectId: string, botToken: string, verified: VerifiedInitData) {
  const mac = createHmac('sha256', botToken)
    .update(`e-stars customer session v1\n${projectId}\n${verified.hash}`)
    .digest('base64url')
  return `${CUSTOMER_TOKEN_PREFIX}${projectId}.${mac}`
}

export interface CreateCustomerSessionInput {
  projectId: string
  /** `Telegram.WebApp.initData`, as the Mini App received it. */
  initData: string
  /** Decrypts the project's bot token, which the init data must be signed with. */
  secrets: Secrets
  policy?: CustomerSessionPolicy | undefined
  now?: Date | undefined
}

export interface CustomerSession {
  /** `ecs.<projectId>.<random>`: send as `Authorization: Bearer <token>`; shown once. */
  token: string
  expiresAt: string
  projectId: string
  customer: {
    telegramUserId: number
    firstName: string
    username: string | null
    languageCode: string | null
  }
}

/**
 * Signs a Mini App user in: verifies the init data against THIS project's bot token, then (and
 * only then) upserts the customer and stores a session. The token is derived from the init data
 * (see `customerToken`) and stored as its SHA-256; it names the project, so every look-up is
 * scoped by `project_id`. A replay of the same init data while its session lives returns that
 * session; a customer holds at most MAX_LIVE_SESSIONS_PER_CUSTOMER, the oldest ending first.
 * Throws InitDataRejected (`missing` before anything is looked up), NotFound (project),
 * BotTokenMissing or CustomerBlocked.
 */
export async function createCustomerSession(
  db: Db,
  input: CreateCustomerSessionInput,
): Promise<CustomerSession> {
  const policy = input.policy ?? DEFAULT_CUSTOMER_SESSION_POLICY
  const now = input.now ?? new Date()
  initDataText(input.initData)
  const botToken = await projectBotToken(db, input.secrets, input.projectId)
  const verified = verifyInitData(input.initData, botToken, {
    maxAgeSeconds: policy.initDataMaxAgeSeconds,
    now,
  })
  const { user } = verified
  const token = customerToken(input.projectId, botToken, verified)
  const tokenHash = hashToken(token)
  const expiresAt = await transact(db, async (tx) => {
    // The customer's lock serializes its sign-ins: replays in parallel find one session.
    const customer = await upsertAndLockCustomer(tx, input.projectId, user.id, {
      firstName: user.firstName,
      lastName: user.lastName,
      username: user.username,
      languageCode: user.languageCode,
    })
    if (customer.blockedAt) throw new CustomerBlocked(user.id)
    const mine = and(
      eq(customerSessions.projectId, input.projectId),
      eq(customerSessions.customerId, customer.id),
    )
    // This customer's ended sessions go as new ones come: the table stays small without a job.
    await tx.delete(customerSessions).where(and(mine, lte(customerSessions.expiresAt, now)))
    const [live] = await tx
      .select({ expiresAt: customerSessions.expiresAt })
      .from(customerSessions)
      .where(and(mine, eq(customerSessions.tokenHash, tokenHash)))
    if (live) return live.expiresAt
    const ends = new Date(now.getTime() + policy.tokenTtlSeconds * 1000)
    await tx.insert(customerSessions).values({
      projectId: input.projectId,
      tokenHash,
      customerId: customer.id,
      telegramUserId: user.id,
      authDate: verified.authDate,
      createdAt: now,
      expiresAt: ends,
    })
    await endOldestSessions(tx, mine)
    return ends
  })
  return {
    token,
    expiresAt: expiresAt.toISOString(),
    projectId: input.projectId,
    customer: {
      telegramUserId: user.id,
      firstName: user.firstName,
      username: user.username,
      languageCode: user.languageCode,
    },
  }
}

/** Keeps the customer's newest MAX_LIVE_SESSIONS_PER_CUSTOMER sessions and ends the rest. */
async function endOldestSessions(tx: Executor, mine: ReturnType<typeof and>) {
  const newest = tx
    .select({ tokenHash: customerSessions.tokenHash })
    .from(customerSessions)
    .where(mine)
    .orderBy(desc(customerSessions.createdAt), desc(customerSessions.expiresAt))
    .limit(MAX_LIVE_SESSIONS_PER_CUSTOMER)
  await tx.delete(customerSessions).where(and(mine, notInArray(customerSessions.tokenHash, newest)))
}

/** Who a customer token speaks for: one project, one customer. */
export interface AuthenticatedCustomer {
  projectId: string
  customerId: number
  telegramUserId: number
  expiresAt: string
}

/** Resolves a customer token; throws CustomerSessionInvalid (`malformed`, `unknown`, `expired`). */
export async function authenticateCustomerSession(
  db: Executor,
  token: string,
  now: Date = new Date(),
): Promise<AuthenticatedCustomer> {
  const match = TOKEN.exec(token)
  if (!match) throw new CustomerSessionInvalid('malformed')
  const projectId = match[1]!
  const [row] = await db
    .select({
      customerId: customerSessions.customerId,
      telegramUserId: customerSessions.telegramUserId,
      expiresAt: customerSessions.expiresAt,
    })
    .from(customerSessions)
    .where(
      and(
        eq(customerSessions.projectId, projectId),
        eq(customerSessions.tokenHash, hashToken(token)),
      ),
    )
  if (!row) throw new CustomerSessionInvalid('unknown')
  if (row.expiresAt <= now) throw new CustomerSessionInvalid('expired')
  return {
    projectId,
    customerId: row.customerId,
    telegramUserId: row.telegramUserId,
    expiresAt: row.expiresAt.toISOString(),
  }
}

/** Ends a session (sign out); ending an unknown or ended one is a no-op. */
export async function endCustomerSession(db: Executor, token: string): Promise<{ ended: boolean }> {
  const match = TOKEN.exec(token)
  if (!match) return { ended: false }
  const ended = await db
    .delete(customerSessions)
    .where(
      and(
        eq(customerSessions.projectId, match[1]!),
        eq(customerSessions.tokenHash, hashToken(token)),
      ),
    )
    .returning({ customerId: customerSessions.customerId })
  return { ended: ended.length > 0 }
}

/** Deletes expired sessions of every project (a periodic job); returns how many. */
export async function purgeCustomerSessions(db: Executor, now: Date = new Date()) {
  const purged = await db
    .delete(customerSessions)
    .where(sql`${customerSessions.expiresAt} <= ${now.toISOString()}::timestamptz`)
    .returning({ customerId: customerSessions.customerId })
  return purged.length
}
