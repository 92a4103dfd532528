import { consume, release, reserve, settle } from '@e-stars/billing'
import { consumeInput, releaseInput, reserveInput, settleInput } from '../inputs.ts'
import { rest } from '../rest/route.ts'
import { botProcedure } from '../trpc.ts'

const actorOf = (ctx: { project: { keyId: string } }) => `api-key:${ctx.project.keyId}`

export const usageRouter = {
  consume: botProcedure
    .meta(rest('POST', '/usage/consume', 'Spend credits now'))
    .input(consumeInput)
    .mutation(({ ctx, input }) =>
      consume(ctx.db, { ...input, projectId: ctx.project.id, actor: actorOf(ctx) }),
    ),
  reserve: botProcedure
    .meta(rest('POST', '/usage/reserve', 'Hold credits for work whose cost is known afterwards'))
    .input(reserveInput)
    .mutation(({ ctx, input }) =>
      reserve(ctx.db, { ...input, projectId: ctx.project.id, actor: actorOf(ctx) }),
    ),
  settle: botProcedure
    .meta(rest('POST', '/usage/settle', 'Settle a hold to the actual cost'))
    .input(settleInput)
    .mutation(({ ctx, input }) =>
      settle(ctx.db, { ...input, projectId: ctx.project.id, actor: actorOf(ctx) }),
    ),
  release: botProcedure
    .meta(rest('POST', '/usage/release', 'Release a hold'))
    .input(releaseInput)
    .mutation(({ ctx, input }) =>
      release(ctx.db, { ...input, projectId: ctx.project.id, actor: actorOf(ctx) }),
    ),
}
