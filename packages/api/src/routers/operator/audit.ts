import { listAuditLog } from '@e-stars/billing'
import { projectProcedure } from '../../trpc.ts'
import { auditListInput } from './inputs.ts'

export const auditRouter = {
  /** Every operator action, newest first: who, when, what, before and after. */
  list: projectProcedure
    .input(auditListInput)
    .query(({ ctx, input }) => listAuditLog(ctx.db, { ...input, projectId: ctx.project.id })),
}
