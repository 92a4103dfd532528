import { rest } from '../rest/route.ts'
import { botProcedure } from '../trpc.ts'

export const projectRouter = {
  /** Which project the presented API key belongs to. */
  whoami: botProcedure
    .meta(rest('GET', '/project', 'Which project the API key belongs to'))
    .query(({ ctx }) => ({
      projectId: ctx.project.id,
      keyId: ctx.project.keyId,
    })),
}
