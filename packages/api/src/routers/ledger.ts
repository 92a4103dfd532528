import { listLedger } from '@e-stars/billing'
import { ledgerListInput } from '../inputs.ts'
import { botProcedure } from '../trpc.ts'

export const ledgerRouter = {
  /** Newest first; pass `nextCursor` back as `cursor` for the next page. */
  list: botProcedure
    .input(ledgerListInput)
    .query(({ ctx, input }) => listLedger(ctx.db, { ...input, projectId: ctx.project.id })),
}
