import {
  consume,
  consumeFeatureMany,
  consumeMany,
  MAX_BATCH_ITEMS,
  release,
  reserve,
  settle,
} from '@e-stars/billing'
import { z } from 'zod'
import {
  consumeInput as creditConsumeInput,
  settleInput as creditSettleInput,
  releaseInput,
  reserveInput,
  usageRecordInput,
} from '../inputs.ts'
import { rest } from '../rest/route.ts'
import { botProcedure } from '../trpc.ts'
import { consumeFeatureInput } from './access.ts'

/** The act's usage record (issue 14), optional: its cost goes on the entry, checked against the cost caps. */
const consumeInput = creditConsumeInput.extend({ usage: usageRecordInput.optional() })
const settleInput = creditSettleInput.extend({ usage: usageRecordInput.optional() })

const actorOf = (ctx: { project: { keyId: string } }) => `api-key:${ctx.project.keyId}`

/** 1 to 1,000 items, each a whole call with its own idempotency key. */
const itemsOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item).min(1).max(MAX_BATCH_ITEMS) })

export const usageRouter = {
  consume: botProcedure
    .meta(rest('POST', '/usage/consume', 'Spend credits now'))
    .input(consumeInput)
    .mutation(({ ctx, input }) =>
      consume(ctx.db, { ...input, projectId: ctx.project.id, actor: actorOf(ctx) }),
    ),
  /**
   * Up to 1,000 consumes in one call, each with its own idempotency key; answers one
   * `{ ok, result }` or `{ ok: false, error: { code, message, … } }` per item, in order. Items
   * apply as that many calls sent together would: each is decided on its own.
   */
  consumeMany: botProcedure
    .meta(rest('POST', '/usage/consume-many', 'Spend credits for up to 1,000 calls at once'))
    .input(itemsOf(consumeInput))
    .mutation(({ ctx, input }) =>
      consumeMany(ctx.db, { projectId: ctx.project.id, actor: actorOf(ctx) }, input.items),
    ),
  /** `consumeFeature` for up to 1,000 items, one outcome per item (see `consumeMany`). */
  consumeFeatureMany: botProcedure
    .meta(
      rest('POST', '/usage/features/consume-many', 'Charge feature units for up to 1,000 calls'),
    )
    .input(itemsOf(consumeFeatureInput))
    .mutation(({ ctx, input }) =>
      consumeFeatureMany(ctx.db, { projectId: ctx.project.id, actor: actorOf(ctx) }, input.items),
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
