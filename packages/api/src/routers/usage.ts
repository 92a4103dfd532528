import { consume, release, reserve, settle } from '@e-stars/billing'
import { consumeInput, releaseInput, reserveInput, settleInput } from '../inputs.ts'
import { botProcedure } from '../trpc.ts'

const actorOf = (ctx: { project: { keyId: string } }) => `api-key:${ctx.project.keyId}`

export const usageRouter = {
  consume: botProcedure
    .input(consumeInput)
    .mutation(({ ctx, input }) =>
      consume(ctx.db, { ...input, projectId: ctx.project.id, actor: actorOf(ctx) }),
    ),
  reserve: botProcedure
    .input(reserveInput)
    .mutation(({ ctx, input }) =>
      reserve(ctx.db, { ...input, projectId: ctx.project.id, actor: actorOf(ctx) }),
    ),
  settle: botProcedure
    .input(settleInput)
    .mutation(({ ctx, input }) =>
      settle(ctx.db, { ...input, projectId: ctx.project.id, actor: actorOf(ctx) }),
    ),
  release: botProcedure
    .input(releaseInput)
    .mutation(({ ctx, input }) =>
      release(ctx.db, { ...input, projectId: ctx.project.id, actor: actorOf(ctx) }),
    ),
}
