import { botProcedure } from '../trpc.ts'

export const projectRouter = {
  /** Which project the presented API key belongs to. */
  whoami: botProcedure.query(({ ctx }) => ({
    projectId: ctx.project.id,
    keyId: ctx.project.keyId,
  })),
}
