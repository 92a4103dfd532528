import { listFeatures, listQuotas } from '@e-stars/billing'
import { z } from 'zod'
import { rest } from '../rest/route.ts'
import { TEXT_LIMITS } from '../text.ts'
import { botProcedure } from '../trpc.ts'

export const featureKey = z
  .string()
  .min(1)
  .max(TEXT_LIMITS.key)
  .regex(/^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/, 'a feature key like ai.tokens, image or pro')

export const featuresRouter = {
  /** Metered and gated features with their cost (credits per `perUnits` units); operators manage them. */
  list: botProcedure
    .meta(rest('GET', '/features', 'Metered and gated features'))
    .query(({ ctx }) => listFeatures(ctx.db, { projectId: ctx.project.id })),
  /** The quotas set for the project (all features, or one). */
  quotas: botProcedure
    .meta(rest('GET', '/quotas', 'The quotas set for the project'))
    .input(z.object({ featureKey: featureKey.optional() }).optional())
    .query(({ ctx, input }) =>
      listQuotas(ctx.db, { projectId: ctx.project.id, featureKey: input?.featureKey }),
    ),
}
