import { pollEvents } from '@e-stars/billing'
import { z } from 'zod'
import { cursor, limit } from '../inputs.ts'
import { rest } from '../rest/route.ts'
import { botProcedure } from '../trpc.ts'

export const eventsRouter = {
  /**
   * Events after `cursor`, oldest first: `balance.low`, `quota.exhausted`,
   * `free_allowance.exhausted`. Store the returned `cursor` and pass it back next time.
   */
  poll: botProcedure
    .meta(rest('GET', '/events', 'Billing events after a cursor, oldest first'))
    .input(
      z
        .object({
          cursor,
          limit: limit(500, 100),
        })
        .optional(),
    )
    .query(({ ctx, input }) =>
      pollEvents(ctx.db, { projectId: ctx.project.id, cursor: input?.cursor, limit: input?.limit }),
    ),
}
