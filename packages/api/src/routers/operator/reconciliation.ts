import {
  audited,
  listReconciliationFindings,
  listReconciliationRuns,
  reconcile,
  recordAudit,
  resolveFinding,
} from '@e-stars/billing'
import { TRPCError } from '@trpc/server'
import { ownerProcedure, projectProcedure } from '../../trpc.ts'
import { findingsInput, resolveFindingInput } from './inputs.ts'

export const operatorReconciliationRouter = {
  runs: projectProcedure.query(({ ctx }) =>
    listReconciliationRuns(ctx.db, { projectId: ctx.project.id, limit: 20 }),
  ),
  findings: projectProcedure.input(findingsInput).query(({ ctx, input }) =>
    listReconciliationFindings(ctx.db, {
      projectId: ctx.project.id,
      runId: input.runId ?? undefined,
      unresolved: input.unresolved,
      limit: 100,
    }),
  ),
  /** Compares Telegram's ledger with ours now; the run stores its own findings. */
  runNow: ownerProcedure.mutation(async ({ ctx }) => {
    if (!ctx.payments)
      throw new TRPCError({
        code: 'PRECONDITION_FAILED',
        message: 'Payments are not configured on this server (SECRET_KEY)',
      })
    const result = await reconcile(ctx.db, {
      projectId: ctx.project.id,
      botApi: await ctx.payments.botApiFor(ctx.project.id),
      secrets: ctx.payments.secrets,
      trigger: ctx.actor,
    })
    // The run manages its own transaction around Telegram's answer; the audit row follows it.
    await recordAudit(ctx.db, {
      projectId: ctx.project.id,
      actor: ctx.actor,
      action: 'reconciliation.run',
      target: result.status === 'succeeded' ? `reconciliation_run:${result.runId}` : null,
      after:
        result.status === 'succeeded'
          ? { status: result.status, summary: result.summary }
          : { status: result.status, reason: result.reason },
    })
    return result
  }),
  resolve: ownerProcedure.input(resolveFindingInput).mutation(({ ctx, input }) =>
    audited(
      ctx.db,
      (tx) => resolveFinding(tx, { ...input, projectId: ctx.project.id, by: ctx.actor }),
      {
        projectId: ctx.project.id,
        actor: ctx.actor,
        action: 'reconciliation.resolve',
        target: `finding:${input.findingId}`,
        after: (f) => ({ resolution: f.resolution, resolvedBy: f.resolvedBy }),
      },
    ),
  ),
}
