import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import {
  type Executor,
  loginAttempts,
  operatorSessions,
  operators,
  projectMembers,
  projects,
} from '@e-stars/db'
import { and, asc, eq, gt, lt, sql } from 'drizzle-orm'
import { InvalidCredentials, TooManyLoginAttempts } from '../errors.ts'
import { transact } from '../ledger/transaction.ts'
import { hashPassword, type OperatorRole, verifyPassword } from './operators.ts'

export interface SessionPolicy {
  /** A session ends after this long without a request (sliding). */
  idleMs: number
  /** …and after this long whatever happens. */
  absoluteMs: number
  /** Failed logins counted per email and per address within `windowMs`. */
  maxFailuresPerEmail: number
  maxFailuresPerIp: number
  windowMs: number
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = {
  idleMs: 8 * 60 * 60 * 1000,
  absoluteMs: 7 * 24 * 60 * 60 * 1000,
  maxFailuresPerEmail: 5,
  maxFailuresPerIp: 20,
  windowMs: 15 * 60 * 1000,
}

/** The session cookie holds the token; only its SHA-256 is stored. */
export const hashSessionToken = (token: string) => createHash('sha256').update(token).digest('hex')

export interface OperatorProject {
  id: string
  name: string
  timeZone: string
  role: OperatorRole
}

export interface OperatorIdentity {
  id: string
  email: string
  name: string
}

export interface LoginResult {
  /** Goes into the httpOnly cookie, and nowhere else. */
  token: string
  csrfToken: string
  expiresAt: string
  operator: OperatorIdentity
  projects: OperatorProject[]
}

export interface LoginInput {
  email: string
  password: string
  ip: string
  now?: Date | undefined
  policy?: Partial<SessionPolicy> | undefined
}

// Verifying against a real hash keeps an unknown email as slow as a wrong password.
let decoyHash: Promise<string> | undefined

/**
 * Checks the password and opens a session. Refuses with `TooManyLoginAttempts` once the email or
 * the address has failed too often in the window; every failure is stored (replicas share it).
 */
export async function login(db: Executor, input: LoginInput): Promise<LoginResult> {
  const policy = { ...DEFAULT_SESSION_POLICY, ...input.policy }
  const now = input.now ?? new Date()
  const email = input.email.trim().toLowerCase()
  const since = new Date(now.getTime() - policy.windowMs)
  // The attempt is recorded before it is judged, so parallel guesses count against each other
  // instead of all passing the check during the slow password hash. A success deletes it.
  const [attempt] = await db
    .insert(loginAttempts)
    .values({ email, ip: input.ip, at: now })
    .returning({ id: loginAttempts.id })
  try {
    await refuseWhenLimited(db, { email, ip: input.ip, since, policy, excludeId: attempt!.id })
  } catch (error) {
    // A refused attempt was never tried: it does not extend the lock.
    await db.delete(loginAttempts).where(eq(loginAttempts.id, attempt!.id))
    throw error
  }

  const [operator] = await db
    .select({
      id: operators.id,
      email: operators.email,
      name: operators.name,
      passwordHash: operators.passwordHash,
    })
    .from(operators)
    .where(eq(operators.email, email))
  decoyHash ??= hashPassword(randomBytes(16).toString('hex'))
  const valid = await verifyPassword(input.password, operator?.passwordHash ?? (await decoyHash))
  if (!operator || !valid) throw new InvalidCredentials()

  const token = randomBytes(32).toString('base64url')
  const csrfToken = randomBytes(24).toString('base64url')
  const expiresAt = new Date(now.getTime() + policy.idleMs)
  await transact(db, async (tx) => {
    await tx.delete(loginAttempts).where(eq(loginAttempts.email, email))
    await tx.insert(operatorSessions).values({
      tokenHash: hashSessionToken(token),
      operatorId: operator.id,
      csrfToken,
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
    })
  })
  return {
    token,
    csrfToken,
    expiresAt: expiresAt.toISOString(),
    operator: { id: operator.id, email: operator.email, name: operator.name },
    projects: await listOperatorProjects(db, operator.id),
  }
}

async function refuseWhenLimited(
  db: Executor,
  input: { email: string; ip: string; since: Date; policy: SessionPolicy; excludeId: number },
) {
  const [counts] = await db
    .select({
      byEmail: sql<number>`count(*) filter (where ${loginAttempts.email} = ${input.email})::int`,
      byIp: sql<number>`count(*) filter (where ${loginAttempts.ip} = ${input.ip})::int`,
      oldestEmail: sql<
        string | null
      >`min(${loginAttempts.at}) filter (where ${loginAttempts.email} = ${input.email})`,
      oldestIp: sql<
        string | null
      >`min(${loginAttempts.at}) filter (where ${loginAttempts.ip} = ${input.ip})`,
    })
    .from(loginAttempts)
    .where(
      and(
        gt(loginAttempts.at, input.since),
        // Earlier attempts only: this one's own row is not yet a failure. Rows of parallel
        // attempts still in flight do count, which is the point.
        sql`${loginAttempts.id} < ${input.excludeId}`,
        sql`(${loginAttempts.email} = ${input.email} or ${loginAttempts.ip} = ${input.ip})`,
      ),
    )
  const limitedFrom = [
    Number(counts?.byEmail ?? 0) >= input.policy.maxFailuresPerEmail ? counts?.oldestEmail : null,
    Number(counts?.byIp ?? 0) >= input.policy.maxFailuresPerIp ? counts?.oldestIp : null,
  ].filter((v): v is string => Boolean(v))
  if (limitedFrom.length === 0) return
  // The limit lifts when the oldest counted failure leaves the window.
  const retryAt = new Date(
    Math.max(...limitedFrom.map((at) => new Date(at).getTime())) + input.policy.windowMs,
  )
  const now = input.since.getTime() + input.policy.windowMs
  throw new TooManyLoginAttempts(
    retryAt.toISOString(),
    Math.max(1, Math.ceil((retryAt.getTime() - now) / 1000)),
  )
}

export interface AuthenticatedSession {
  operator: OperatorIdentity
  csrfToken: string
  expiresAt: string
  /** Set when the sliding expiry moved: the cookie should be re-issued with it. */
  renewed: boolean
}

/**
 * The operator behind a session token, or null when it is unknown or expired. Slides the expiry
 * (at most once a minute, to keep reads cheap) without passing the absolute limit.
 */
export async function authenticateSession(
  db: Executor,
  token: string,
  options: { now?: Date | undefined; policy?: Partial<SessionPolicy> | undefined } = {},
): Promise<AuthenticatedSession | null> {
  const policy = { ...DEFAULT_SESSION_POLICY, ...options.policy }
  const now = options.now ?? new Date()
  const tokenHash = hashSessionToken(token)
  const [row] = await db
    .select({
      operatorId: operators.id,
      email: operators.email,
      name: operators.name,
      csrfToken: operatorSessions.csrfToken,
      createdAt: operatorSessions.createdAt,
      lastSeenAt: operatorSessions.lastSeenAt,
      expiresAt: operatorSessions.expiresAt,
    })
    .from(operatorSessions)
    .innerJoin(operators, eq(operators.id, operatorSessions.operatorId))
    .where(eq(operatorSessions.tokenHash, tokenHash))
  if (!row || row.expiresAt <= now) return null
  let expiresAt = row.expiresAt
  let renewed = false
  if (now.getTime() - row.lastSeenAt.getTime() >= 60_000) {
    const slid = new Date(
      Math.min(now.getTime() + policy.idleMs, row.createdAt.getTime() + policy.absoluteMs),
    )
    await db
      .update(operatorSessions)
      .set({ lastSeenAt: now, expiresAt: slid })
      .where(eq(operatorSessions.tokenHash, tokenHash))
    renewed = slid.getTime() !== expiresAt.getTime()
    expiresAt = slid
  }
  return {
    operator: { id: row.operatorId, email: row.email, name: row.name },
    csrfToken: row.csrfToken,
    expiresAt: expiresAt.toISOString(),
    renewed,
  }
}

/** Constant-time comparison of the double-submitted CSRF token. */
export function csrfMatches(expected: string, presented: string | null | undefined): boolean {
  if (!presented) return false
  const a = Buffer.from(expected)
  const b = Buffer.from(presented)
  return a.length === b.length && timingSafeEqual(a, b)
}

export async function logout(db: Executor, token: string): Promise<void> {
  await db.delete(operatorSessions).where(eq(operatorSessions.tokenHash, hashSessionToken(token)))
}

/** Expired sessions and failures older than the window; run by a job. */
export async function purgeOperatorSessions(
  db: Executor,
  options: { now?: Date; policy?: Partial<SessionPolicy> } = {},
) {
  const policy = { ...DEFAULT_SESSION_POLICY, ...options.policy }
  const now = options.now ?? new Date()
  const sessions = await db
    .delete(operatorSessions)
    .where(lt(operatorSessions.expiresAt, now))
    .returning({ tokenHash: operatorSessions.tokenHash })
  const attempts = await db
    .delete(loginAttempts)
    .where(lt(loginAttempts.at, new Date(now.getTime() - policy.windowMs)))
    .returning({ id: loginAttempts.id })
  return { sessions: sessions.length, attempts: attempts.length }
}

export async function listOperatorProjects(
  db: Executor,
  operatorId: string,
): Promise<OperatorProject[]> {
  const list = await db
    .select({
      id: projects.id,
      name: projects.name,
      timeZone: projects.timeZone,
      role: projectMembers.role,
    })
    .from(projectMembers)
    .innerJoin(projects, eq(projects.id, projectMembers.projectId))
    .where(eq(projectMembers.operatorId, operatorId))
    .orderBy(asc(projects.createdAt))
  return list.map((p) => ({ ...p, role: p.role as OperatorRole }))
}

/** The operator's role in the project, or null when they are not a member. */
export async function membershipOf(
  db: Executor,
  operatorId: string,
  projectId: string,
): Promise<OperatorRole | null> {
  const [row] = await db
    .select({ role: projectMembers.role })
    .from(projectMembers)
    .where(and(eq(projectMembers.operatorId, operatorId), eq(projectMembers.projectId, projectId)))
  return (row?.role as OperatorRole | undefined) ?? null
}
