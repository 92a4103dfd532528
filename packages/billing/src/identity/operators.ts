import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import { type Executor, operatorSessions, operators, projectMembers, projects } from '@e-stars/db'
import { eq } from 'drizzle-orm'
import { InvalidInput, NotFound } from '../errors.ts'
import { transact } from '../ledger/transaction.ts'

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
) => Promise<Buffer>

/** `scrypt$<salt>$<hash>`, both base64url; N=16384, r=8, p=1 (Node's defaults). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scrypt(password, salt, 32)
  return `scrypt$${salt.toString('base64url')}$${hash.toString('base64url')}`
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, salt, hash] = stored.split('$')
  if (scheme !== 'scrypt' || !salt || !hash) return false
  const expected = Buffer.from(hash, 'base64url')
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length)
  return timingSafeEqual(actual, expected)
}

export type OperatorRole = 'owner' | 'viewer'

export interface CreateOperatorInput {
  email: string
  name?: string | undefined
  password: string
  projectId?: string | undefined
  role?: OperatorRole | undefined
}

export async function createOperator(db: Executor, input: CreateOperatorInput) {
  const email = input.email.trim().toLowerCase()
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new InvalidInput('email', 'must be an email address')
  if (input.password.length < 8) throw new InvalidInput('password', 'must be at least 8 characters')
  return transact(db, async (tx) => {
    const [existing] = await tx
      .select({ id: operators.id })
      .from(operators)
      .where(eq(operators.email, email))
    if (existing) throw new InvalidInput('email', `an operator with email ${email} already exists`)
    if (input.projectId) {
      const [project] = await tx
        .select({ id: projects.id })
        .from(projects)
        .where(eq(projects.id, input.projectId))
      if (!project) throw new NotFound('Project', input.projectId)
    }
    const [operator] = await tx
      .insert(operators)
      .values({
        email,
        name: input.name ?? email.split('@')[0]!,
        passwordHash: await hashPassword(input.password),
      })
      .returning({ id: operators.id, email: operators.email, name: operators.name })
    if (input.projectId) {
      await tx.insert(projectMembers).values({
        projectId: input.projectId,
        operatorId: operator!.id,
        role: input.role ?? 'owner',
      })
    }
    return {
      ...operator!,
      projectId: input.projectId ?? null,
      role: input.projectId ? (input.role ?? 'owner') : null,
    }
  })
}

/**
 * Gives an operator a new password (the way back into the console when the printed login is
 * lost). Every session of theirs ends with it: whoever held the old password is signed out too.
 */
export async function resetOperatorPassword(
  db: Executor,
  input: { email: string; password: string },
): Promise<{ id: string; email: string; sessionsEnded: number }> {
  const email = input.email.trim().toLowerCase()
  if (input.password.length < 8) throw new InvalidInput('password', 'must be at least 8 characters')
  const passwordHash = await hashPassword(input.password)
  return transact(db, async (tx) => {
    const [operator] = await tx
      .update(operators)
      .set({ passwordHash })
      .where(eq(operators.email, email))
      .returning({ id: operators.id, email: operators.email })
    if (!operator) throw new NotFound('Operator', email)
    const ended = await tx
      .delete(operatorSessions)
      .where(eq(operatorSessions.operatorId, operator.id))
      .returning({ id: operatorSessions.operatorId })
    return { ...operator, sessionsEnded: ended.length }
  })
}
