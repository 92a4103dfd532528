import { listReconciliationFindings, listReconciliationRuns, reconcile } from '@e-stars/billing'
import { findingsInput, runsInput } from '../payment-inputs.ts'
import { paymentProcedure } from '../payment-services.ts'
import { rest } from '../rest/route.ts'
import { botProcedure } from '../trpc.ts'

export const reconcileRouter = {
  /** Compares Telegram's Star transactions with the local payments now, and repairs or flags. */
  run: paymentProcedure
    .meta(rest('POST', '/reconcile/runs', "Compare with Telegram's Star transactions now"))
    .mutation(async ({ ctx }) =>
      reconcile(ctx.db, {
        projectId: ctx.project.id,
        botApi: await ctx.payments.botApiFor(ctx.project.id),
        secrets: ctx.payments.secrets,
        trigger: 'manual',
      }),
    ),
  runs: botProcedure
    .meta(rest('GET', '/reconcile/runs', 'Past reconciliation runs'))
    .input(runsInput)
    .query(({ ctx, input }) =>
      listReconciliationRuns(ctx.db, { projectId: ctx.project.id, ...input }),
    ),
  findings: botProcedure
    .meta(rest('GET', '/reconcile/findings', 'Reconciliation findings'))
    .input(findingsInput)
    .query(({ ctx, input }) =>
      listReconciliationFindings(ctx.db, { projectId: ctx.project.id, ...input }),
    ),
}
