import { pollEvents } from '@e-stars/billing'
import { z } from 'zod'
import { botProcedure } from '../trpc.ts'

export const eventsRouter = {
  /**
   * Events after `cursor`, oldest first: `balance.low`, `quota.exhausted`,
   * `free_allowance.exhausted`. Store the returned `cursor` and pass it back next time.
   */
  poll: botProcedure
    .input(
      z
        .object({
          cursor: z
            .string()
            .regex(/^\d{1,19}$/)
            .nullish(),
          limit: z.number().int().min(1).max(500).default(100),
        })
        .optional(),
    )
    .query(({ ctx, input }) =>
      pollEvents(ctx.db, { projectId: ctx.project.id, cursor: input?.cursor, limit: input?.limit }),
    ),
}
