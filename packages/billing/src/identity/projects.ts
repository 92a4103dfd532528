import { createHash, randomBytes } from 'node:crypto'
import { apiKeys, type Executor, projects } from '@e-stars/db'
import { and, asc, eq, isNull } from 'drizzle-orm'
import { NotFound } from '../errors.ts'
import { checkName, checkProjectId, checkProjectRules, checkUuid } from './project-rules.ts'

export interface CreateProjectInput {
  name: string
  timeZone?: string | undefined
}

export async function createProject(db: Executor, input: CreateProjectInput) {
  checkProjectRules(input)
  const [project] = await db
    .insert(projects)
    .values({ name: input.name.trim(), timeZone: input.timeZone ?? 'UTC' })
    .returning({ id: projects.id, name: projects.name, timeZone: projects.timeZone })
  return project!
}

export async function listProjects(db: Executor) {
  return db
    .select({ id: projects.id, name: projects.name, createdAt: projects.createdAt })
    .from(projects)
    .orderBy(asc(projects.createdAt))
}

const KEY_PREFIX = 'esk_'

/** SHA-256 is enough for keys with 192 bits of entropy; slow hashes are for passwords. */
export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex')

/** Creates an API key. The plain key is in the result and nowhere else, ever. */
export async function createApiKey(db: Executor, input: { projectId: string; name: string }) {
  checkProjectId(input.projectId)
  checkName('name', input.name, 100)
  const [project] = await db
    .select({ id: projects.id })
    .from(projects)
    .where(eq(projects.id, input.projectId))
  if (!project) throw new NotFound('Project', input.projectId)
  const key = `${KEY_PREFIX}${randomBytes(24).toString('base64url')}`
  const [row] = await db
    .insert(apiKeys)
    .values({
      projectId: input.projectId,
      name: input.name,
      prefix: key.slice(0, 10),
      keyHash: hashApiKey(key),
    })
    .returning({
      id: apiKeys.id,
      name: apiKeys.name,
      prefix: apiKeys.prefix,
      createdAt: apiKeys.createdAt,
    })
  return { ...row!, createdAt: row!.createdAt.toISOString(), key }
}

export async function listApiKeys(db: Executor, projectId: string) {
  checkProjectId(projectId)
  const keys = await db
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      prefix: apiKeys.prefix,
      createdAt: apiKeys.createdAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .where(eq(apiKeys.projectId, projectId))
    .orderBy(asc(apiKeys.createdAt))
  return keys.map((k) => ({
    ...k,
    createdAt: k.createdAt.toISOString(),
    revokedAt: k.revokedAt?.toISOString() ?? null,
  }))
}

export async function revokeApiKey(db: Executor, input: { projectId: string; keyId: string }) {
  checkProjectId(input.projectId)
  checkUuid(input.keyId, 'keyId')
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(apiKeys.projectId, input.projectId),
        eq(apiKeys.id, input.keyId),
        isNull(apiKeys.revokedAt),
      ),
    )
    .returning({ id: apiKeys.id })
  if (!row) throw new NotFound('Active API key', input.keyId)
  return { id: row.id, revoked: true as const }
}

/** The project a presented key belongs to, or null for an unknown or revoked key. */
export async function authenticateApiKey(db: Executor, key: string) {
  if (!key.startsWith(KEY_PREFIX)) return null
  const [row] = await db
    .select({ projectId: apiKeys.projectId, keyId: apiKeys.id })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, hashApiKey(key)), isNull(apiKeys.revokedAt)))
  return row ?? null
}
