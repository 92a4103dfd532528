import { type Executor, features, projects } from '@e-stars/db'
import { and, asc, eq, isNull } from 'drizzle-orm'
import { InvalidInput, NotFound } from '../errors.ts'
import { recordAudit } from '../identity/audit.ts'
import { transact } from '../ledger/transaction.ts'

/** The project's margin settings: the USD-per-Star rate, the unpriced-model policy, the margin alert. */
export interface MarginSettings {
  usdPerStarMicros: number
  /** Null while the rate is the default assumption (0.013 USD). */
  usdPerStarSetAt: string | null
  unpricedModelPolicy: 'refuse' | 'flag'
  /** Alert when a day's gross margin falls below this percentage; null is off. */
  marginAlertPercent: number | null
}

export const DEFAULT_USD_PER_STAR_MICROS = 13_000

const columns = {
  usdPerStarMicros: projects.usdPerStarMicros,
  usdPerStarSetAt: projects.usdPerStarSetAt,
  unpricedModelPolicy: projects.unpricedModelPolicy,
  marginAlertPercent: projects.marginAlertPercent,
}

const shaped = (p: {
  usdPerStarMicros: number
  usdPerStarSetAt: Date | null
  unpricedModelPolicy: string
  marginAlertPercent: number | null
}): MarginSettings => ({
  ...p,
  usdPerStarSetAt: p.usdPerStarSetAt ? p.usdPerStarSetAt.toISOString() : null,
  unpricedModelPolicy: p.unpricedModelPolicy as MarginSettings['unpricedModelPolicy'],
})

export async function getMarginSettings(db: Executor, projectId: string): Promise<MarginSettings> {
  const [project] = await db.select(columns).from(projects).where(eq(projects.id, projectId))
  if (!project) throw new NotFound('Project', projectId)
  return shaped(project)
}

export interface MarginSettingsPatch {
  usdPerStarMicros?: number | undefined
  unpricedModelPolicy?: 'refuse' | 'flag' | undefined
  marginAlertPercent?: number | null | undefined
}

/**
 * Changes the margin settings, audited. Setting the rate stamps `usdPerStarSetAt` (it stops being
 * an assumption). The rate applies to lots created from then on: a lot's value is a snapshot.
 */
export async function updateMarginSettings(
  db: Executor,
  input: { projectId: string; actor: string; patch: MarginSettingsPatch },
): Promise<MarginSettings> {
  const { patch } = input
  if (
    patch.usdPerStarMicros !== undefined &&
    (!Number.isSafeInteger(patch.usdPerStarMicros) || patch.usdPerStarMicros < 0)
  )
    throw new InvalidInput('usdPerStarMicros', 'must be a whole number of micro-USD, 0 or more')
  if (
    patch.marginAlertPercent != null &&
    (!Number.isInteger(patch.marginAlertPercent) ||
      patch.marginAlertPercent < -100 ||
      patch.marginAlertPercent > 100)
  )
    throw new InvalidInput('marginAlertPercent', 'must be a whole percentage from -100 to 100')
  return transact(db, async (tx) => {
    const before = await getMarginSettings(tx, input.projectId)
    if (
      patch.usdPerStarMicros === undefined &&
      patch.unpricedModelPolicy === undefined &&
      patch.marginAlertPercent === undefined
    )
      return before
    const [after] = await tx
      .update(projects)
      .set({
        ...(patch.usdPerStarMicros !== undefined
          ? { usdPerStarMicros: patch.usdPerStarMicros, usdPerStarSetAt: new Date() }
          : {}),
        ...(patch.unpricedModelPolicy !== undefined
          ? { unpricedModelPolicy: patch.unpricedModelPolicy }
          : {}),
        ...(patch.marginAlertPercent !== undefined
          ? { marginAlertPercent: patch.marginAlertPercent }
          : {}),
      })
      .where(eq(projects.id, input.projectId))
      .returning(columns)
    const settings = shaped(after!)
    await recordAudit(tx, {
      projectId: input.projectId,
      actor: input.actor,
      action: 'project.margin_settings',
      target: `project:${input.projectId}`,
      before,
      after: settings,
    })
    return settings
  })
}

/** Each live metered feature's margin floor (percent; null: none), for the console. */
export async function listFeatureMarginFloors(db: Executor, projectId: string) {
  return db
    .select({
      featureKey: features.key,
      name: features.name,
      floorPercent: features.marginFloorPercent,
    })
    .from(features)
    .where(
      and(
        eq(features.projectId, projectId),
        eq(features.kind, 'metered'),
        isNull(features.archivedAt),
      ),
    )
    .orderBy(asc(features.key))
}

/**
 * Sets (or, with null, removes) a feature's margin floor: at reserve, the expected cost may not
 * exceed the held credits' value × (1 − floor). A floor outside 0–100 % is refused; audited.
 */
export async function setFeatureMarginFloor(
  db: Executor,
  input: { projectId: string; featureKey: string; floorPercent: number | null; actor: string },
) {
  const floor = input.floorPercent
  if (floor !== null && (!Number.isInteger(floor) || floor < 0 || floor > 100))
    throw new InvalidInput('floorPercent', 'must be a whole percentage from 0 to 100')
  return transact(db, async (tx) => {
    const where = and(eq(features.projectId, input.projectId), eq(features.key, input.featureKey))
    const [before] = await tx
      .select({ floorPercent: features.marginFloorPercent, kind: features.kind })
      .from(features)
      .where(where)
    if (!before) throw new NotFound('Feature', input.featureKey)
    if (before.kind !== 'metered')
      throw new InvalidInput('featureKey', 'must be a metered feature (a gated one has no cost)')
    await tx.update(features).set({ marginFloorPercent: floor, updatedAt: new Date() }).where(where)
    await recordAudit(tx, {
      projectId: input.projectId,
      actor: input.actor,
      action: 'feature.margin_floor',
      target: `feature:${input.featureKey}`,
      before: { floorPercent: before.floorPercent },
      after: { floorPercent: floor },
    })
    return { featureKey: input.featureKey, floorPercent: floor }
  })
}
