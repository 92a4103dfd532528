import { getOverview } from '@e-stars/billing'
import { projectProcedure } from '../../trpc.ts'
import { periodInput } from './inputs.ts'

export const overviewRouter = {
  /** Stars earned, refunds, net, credits sold vs consumed, paying customers, top consumers, per day. */
  get: projectProcedure.input(periodInput).query(({ ctx, input }) =>
    getOverview(ctx.db, {
      projectId: ctx.project.id,
      from: new Date(input.from),
      to: new Date(input.to),
    }),
  ),
}
