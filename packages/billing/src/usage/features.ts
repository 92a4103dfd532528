import { type Executor, features, rows } from '@e-stars/db'
import { and, asc, eq, sql } from 'drizzle-orm'
import { InvalidInput, NotFound } from '../errors.ts'

export type FeatureKind = 'metered' | 'gated'

export interface Feature {
  key: string
  name: string
  kind: FeatureKind
  /** A metered feature costs `credits` per `perUnits` units. 0 for gated features. */
  credits: number
  perUnits: number
  clientConsumable: boolean
  archivedAt: string | null
}

/** Feature keys: `ai.tokens`, `image`, `pro` — lower-case words joined by `.`, `_` or `-`. */
export const FEATURE_KEY = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/

/**
 * The credits `quantity` units of a feature cost: ceil(quantity × credits / perUnits), computed in
 * BigInt so no quantity overflows or loses precision. Rounding up means a call never costs more
 * than one credit above its exact fractional price, and never a fraction.
 */
export function creditsFor(
  feature: { credits: number; perUnits: number },
  quantity: number,
): number {
  if (!Number.isSafeInteger(quantity) || quantity < 0) {
    throw new InvalidInput('quantity', 'must be a whole number of units, 0 or more')
  }
  if (quantity === 0 || feature.credits === 0) return 0
  const product = BigInt(quantity) * BigInt(feature.credits)
  const per = BigInt(feature.perUnits)
  const cost = (product + per - 1n) / per
  if (cost > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InvalidInput('quantity', 'costs more credits than any balance can hold')
  }
  return Number(cost)
}

export interface DefineFeatureInput {
  projectId: string
  key: string
  name: string
  kind: FeatureKind
  /** Metered: credits per `perUnits` units (default 1 per 1). Gated: must be 0 or absent. */
  credits?: number | undefined
  perUnits?: number | undefined
  clientConsumable?: boolean | undefined
}

/** Creates or updates a feature (by key); un-archives it. */
export async function defineFeature(db: Executor, input: DefineFeatureInput): Promise<Feature> {
  if (!FEATURE_KEY.test(input.key) || input.key.length > 64) {
    throw new InvalidInput('key', 'lower-case letters, digits, ".", "_" or "-", at most 64')
  }
  const credits = input.credits ?? (input.kind === 'metered' ? 1 : 0)
  const perUnits = input.perUnits ?? 1
  if (!Number.isSafeInteger(credits) || credits < 0) {
    throw new InvalidInput('credits', 'must be a whole number, 0 or more')
  }
  if (!Number.isSafeInteger(perUnits) || perUnits < 1) {
    throw new InvalidInput('perUnits', 'must be a whole number, 1 or more')
  }
  if (input.kind === 'gated' && credits !== 0) {
    throw new InvalidInput('credits', 'a gated feature has no credit cost')
  }
  const values = {
    name: input.name,
    kind: input.kind,
    credits,
    perUnits,
    clientConsumable: input.clientConsumable ?? false,
    archivedAt: null,
    updatedAt: new Date(),
  }
  const [row] = await db
    .insert(features)
    .values({ projectId: input.projectId, key: input.key, ...values })
    .onConflictDoUpdate({ target: [features.projectId, features.key], set: values })
    .returning()
  return toFeature(row!)
}

export async function listFeatures(
  db: Executor,
  input: { projectId: string; includeArchived?: boolean | undefined },
): Promise<Feature[]> {
  const list = await db
    .select()
    .from(features)
    .where(
      and(
        eq(features.projectId, input.projectId),
        input.includeArchived ? undefined : sql`${features.archivedAt} is null`,
      ),
    )
    .orderBy(asc(features.key))
  return list.map(toFeature)
}

/** An archived feature answers `unknown_feature` and cannot be consumed; its history stays. */
export async function archiveFeature(
  db: Executor,
  input: { projectId: string; key: string },
): Promise<Feature> {
  const [row] = await db
    .update(features)
    .set({ archivedAt: sql`coalesce(${features.archivedAt}, now())`, updatedAt: new Date() })
    .where(and(eq(features.projectId, input.projectId), eq(features.key, input.key)))
    .returning()
  if (!row) throw new NotFound('Feature', input.key)
  return toFeature(row)
}

/** A live (not archived) feature, or null. */
export async function findFeature(
  db: Executor,
  projectId: string,
  key: string,
): Promise<Feature | null> {
  const [row] = await rows<{
    key: string
    name: string
    kind: FeatureKind
    credits: string
    per_units: string
    client_consumable: boolean
  }>(
    db,
    sql`select key, name, kind, credits, per_units, client_consumable from features
        where project_id = ${projectId} and key = ${key} and archived_at is null`,
  )
  if (!row) return null
  return {
    key: row.key,
    name: row.name,
    kind: row.kind,
    credits: Number(row.credits),
    perUnits: Number(row.per_units),
    clientConsumable: row.client_consumable,
    archivedAt: null,
  }
}

function toFeature(row: typeof features.$inferSelect): Feature {
  return {
    key: row.key,
    name: row.name,
    kind: row.kind as FeatureKind,
    credits: row.credits,
    perUnits: row.perUnits,
    clientConsumable: row.clientConsumable,
    archivedAt: row.archivedAt?.toISOString() ?? null,
  }
}
