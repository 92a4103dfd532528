import {
  getCustomerRefundStats,
  getRefundAbusePolicy,
  listCustomersByRefundRate,
  REFUND_ABUSE_ACTIONS,
  REFUND_ABUSE_BOUNDS,
  setRefundAbusePolicy,
} from '@e-stars/billing'
import { z } from 'zod'
import { limit, wholeNumber } from '../inputs.ts'
import { ownerProcedure, projectProcedure } from '../trpc.ts'

export const refundAbusePolicyInput = z.object({
  /** null turns the policy off. */
  limit: wholeNumber(1, REFUND_ABUSE_BOUNDS.maxLimit).nullable().optional(),
  windowDays: wholeNumber(1, REFUND_ABUSE_BOUNDS.maxWindowDays).optional(),
  action: z.enum(REFUND_ABUSE_ACTIONS).optional(),
})

/**
 * Refund abuse, from the console (session cookie; owners change, viewers read): the project's
 * policy (enforced at pre-checkout) and the customers with refunds, highest refund rate first.
 */
export const refundAbuseRouter = {
  policy: projectProcedure.query(({ ctx }) => getRefundAbusePolicy(ctx.db, ctx.project.id)),
  setPolicy: ownerProcedure
    .input(refundAbusePolicyInput)
    .mutation(({ ctx, input }) =>
      setRefundAbusePolicy(ctx.db, { ...input, projectId: ctx.project.id, actor: ctx.actor }),
    ),
  customers: projectProcedure
    .input(z.object({ limit: limit(200, 50) }))
    .query(({ ctx, input }) =>
      listCustomersByRefundRate(ctx.db, { projectId: ctx.project.id, limit: input.limit }),
    ),
  /** The customer page's refund count, refund rate and debt. */
  customer: projectProcedure
    .input(z.object({ telegramUserId: z.number().int().positive() }))
    .query(({ ctx, input }) =>
      getCustomerRefundStats(ctx.db, {
        projectId: ctx.project.id,
        telegramUserId: input.telegramUserId,
      }),
    ),
}
