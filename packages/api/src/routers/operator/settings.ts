import { getProjectSettings, updateProjectSettings } from '@e-stars/billing'
import { ownerProcedure, projectProcedure } from '../../trpc.ts'
import { settingsUpdateInput } from './inputs.ts'

export const settingsRouter = {
  get: projectProcedure.query(({ ctx }) => getProjectSettings(ctx.db, ctx.project.id)),
  update: ownerProcedure
    .input(settingsUpdateInput)
    .mutation(({ ctx, input }) =>
      updateProjectSettings(ctx.db, { ...input, projectId: ctx.project.id, actor: ctx.actor }),
    ),
}
