import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import {
  type Executor,
  operatorSessions,
  operators,
  projectMembers,
  projects,
  rateLimits,
} from '@e-stars/db'
import { and, asc, eq, lt } from 'drizzle-orm'
import { InvalidCredentials } from '../errors.ts'
import { hashPassword, type OperatorRole, verifyPassword } from './operators.ts'

export interface SessionPolicy {
  /** A session ends after this long without a request (sliding). */
  idleMs: number
  /** …and after this long whatever happens. */
  absoluteMs: number
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = {
  idleMs: 8 * 60 * 60 * 1000,
  absoluteMs: 7 * 24 * 60 * 60 * 1000,
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
  now?: Date | undefined
  policy?: Partial<SessionPolicy> | undefined
}

// Verifying against a real hash keeps an unknown email as slow as a wrong password.
let decoyHash: Promise<string> | undefined

/**
 * Checks the password and opens a session. How often one may try is the API's business (its
 * attempt limits, counted across replicas): the engine only answers right or wrong.
 */
export async function login(db: Executor, input: LoginInput): Promise<LoginResult> {
  const policy = { ...DEFAULT_SESSION_POLICY, ...input.policy }
  const now = input.now ?? new Date()
  const email = input.email.trim().toLowerCase()
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
  await db.insert(operatorSessions).values({
    tokenHash: hashSessionToken(token),
    operatorId: operator.id,
    csrfToken,
    createdAt: now,
    lastSeenAt: now,
    expiresAt,
  })
  return {
    token,
    csrfToken,
    expiresAt: expiresAt.toISOString(),
    operator: { id: operator.id, email: operator.email, name: operator.name },
    projects: await listOperatorProjects(db, operator.id),
  }
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

/** Expired sessions and attempt counters whose window has closed; run by a job. */
export async function purgeOperatorSessions(db: Executor, options: { now?: Date } = {}) {
  const now = options.now ?? new Date()
  const sessions = await db
    .delete(operatorSessions)
    .where(lt(operatorSessions.expiresAt, now))
    .returning({ tokenHash: operatorSessions.tokenHash })
  const counters = await db
    .delete(rateLimits)
    .where(lt(rateLimits.expire, now))
    .returning({ key: rateLimits.key })
  return { sessions: sessions.length, rateLimits: counters.length }
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
