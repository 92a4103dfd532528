import { exportPaymentsCsv, refundPaymentAsOperator, searchPayments } from '@e-stars/billing'
import { TRPCError } from '@trpc/server'
import { ownerProcedure, projectProcedure } from '../../trpc.ts'
import { paymentsFilterInput, paymentsListInput, refundInput } from './inputs.ts'

const period = (input: { from?: string | null; to?: string | null }) => ({
  from: input.from ? new Date(input.from) : null,
  to: input.to ? new Date(input.to) : null,
})

export const operatorPaymentsRouter = {
  /** Newest first with filters; `after` returns only newer payments (the live feed polls it). */
  list: projectProcedure.input(paymentsListInput).query(({ ctx, input }) =>
    searchPayments(ctx.db, {
      ...input,
      ...period(input),
      projectId: ctx.project.id,
    }),
  ),
  exportCsv: projectProcedure
    .input(paymentsFilterInput)
    .query(({ ctx, input }) =>
      exportPaymentsCsv(ctx.db, { ...input, ...period(input), projectId: ctx.project.id }),
    ),
  /** refundStarPayment through the project's bot, then revocation and audit; owners only. */
  refund: ownerProcedure.input(refundInput).mutation(async ({ ctx, input }) => {
    if (!ctx.payments)
      throw new TRPCError({
        code: 'PRECONDITION_FAILED',
        message: 'Payments are not configured on this server (SECRET_KEY)',
      })
    return refundPaymentAsOperator(ctx.db, {
      projectId: ctx.project.id,
      telegramPaymentChargeId: input.telegramPaymentChargeId,
      reason: input.reason,
      actor: ctx.actor,
      botApi: await ctx.payments.botApiFor(ctx.project.id),
    })
  }),
}
