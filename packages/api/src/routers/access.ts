import {
  checkAccess,
  consumeFeatureGrouped as consumeFeature,
  releaseFeatureGrouped as releaseFeature,
  reserveFeatureGrouped as reserveFeature,
  settleFeatureGrouped as settleFeature,
} from '@e-stars/billing'
import { z } from 'zod'
import {
  idempotencyKey,
  MAX_AMOUNT,
  metadata,
  reason,
  telegramUserId,
  usageRecordInput,
  wholeNumber,
} from '../inputs.ts'
import { rest } from '../rest/route.ts'
import { botProcedure } from '../trpc.ts'
import { featureKey } from './features.ts'

/** Units per call; a trillion keeps every window's sum a safe integer. */
const quantity = wholeNumber(1, MAX_AMOUNT)
const reservationId = z.uuid()
const actorOf = (ctx: { project: { keyId: string } }) => `api-key:${ctx.project.keyId}`

const checkInput = z.object({ telegramUserId, feature: featureKey, quantity: quantity.default(1) })
export const consumeFeatureInput = z.object({
  telegramUserId,
  feature: featureKey,
  quantity,
  idempotencyKey,
  reason: reason.optional(),
  metadata: metadata.optional(),
  /** The act's usage record (issue 14); at reserve, the expected usage checked against the cost caps. */
  usage: usageRecordInput.optional(),
})

export const accessRouter = {
  /**
   * May this user use `quantity` units of `feature` now? `{ allowed, reason, costCredits,
   * available, quota, freeAllowance, entitlement }`; changes nothing.
   */
  check: botProcedure
    .meta(rest('GET', '/access/check', 'May this user use a feature now (changes nothing)'))
    .input(checkInput)
    .query(({ ctx, input }) => checkAccess(ctx.db, { ...input, projectId: ctx.project.id })),
}

/** Usage by feature, merged into the `usage` router next to the credit-amount calls. */
export const featureUsageRouter = {
  /** Entitlement + quota + balance checked and charged in one transaction; free allowance first. */
  consumeFeature: botProcedure
    .meta(rest('POST', '/usage/features/consume', 'Check and charge feature units in one step'))
    .input(consumeFeatureInput)
    .mutation(({ ctx, input }) =>
      consumeFeature(ctx.db, { ...input, projectId: ctx.project.id, actor: actorOf(ctx) }),
    ),
  /** Reserve an estimate of units (they count against quotas until settled or released). */
  reserveFeature: botProcedure
    .meta(rest('POST', '/usage/features/reserve', 'Reserve feature units'))
    .input(
      consumeFeatureInput.extend({
        ttlSeconds: wholeNumber(1, 86_400).optional(),
        /** Under the `cap` overage policy, an unaffordable estimate shrinks down to this. */
        minQuantity: quantity.optional(),
        /** A feature's margin floor: `cap` returns maxOutputTokens (default), `refuse` refuses. */
        marginFloor: z.enum(['cap', 'refuse']).optional(),
      }),
    )
    .mutation(({ ctx, input }) =>
      reserveFeature(ctx.db, { ...input, projectId: ctx.project.id, actor: actorOf(ctx) }),
    ),
  /** Settle a reservation with the actual units (0 allowed). */
  settleFeature: botProcedure
    .meta(rest('POST', '/usage/features/settle', 'Settle a feature reservation'))
    .input(
      z.object({
        reservationId,
        quantity: wholeNumber(0, MAX_AMOUNT),
        idempotencyKey,
        reason: reason.optional(),
        metadata: metadata.optional(),
        usage: usageRecordInput.optional(),
      }),
    )
    .mutation(({ ctx, input }) =>
      settleFeature(ctx.db, { ...input, projectId: ctx.project.id, actor: actorOf(ctx) }),
    ),
  releaseFeature: botProcedure
    .meta(rest('POST', '/usage/features/release', 'Release a feature reservation'))
    .input(z.object({ reservationId, idempotencyKey, reason: reason.optional() }))
    .mutation(({ ctx, input }) =>
      releaseFeature(ctx.db, { ...input, projectId: ctx.project.id, actor: actorOf(ctx) }),
    ),
}
