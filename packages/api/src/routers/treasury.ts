import { listStarOutflows, treasury } from '@e-stars/billing'
import { z } from 'zod'
import { paymentProcedure } from '../payment-services.ts'
import { rest } from '../rest/route.ts'
import { botProcedure } from '../trpc.ts'

export const treasuryRouter = {
  /**
   * The bot's Stars now (getMyStarBalance) next to e-Stars' books: net revenue after affiliate
   * commissions, withdrawals, ads, API and gift spend, and the difference, flagged when not zero.
   * Outflows come from the last reconciliation's copy of Telegram's ledger.
   */
  summary: paymentProcedure
    .meta(rest('GET', '/treasury', "The bot's Stars balance checked against e-Stars' books"))
    .query(async ({ ctx }) =>
      treasury(ctx.db, {
        projectId: ctx.project.id,
        botApi: await ctx.payments.botApiFor(ctx.project.id),
      }),
    ),
  /** Withdrawals (with their state), ads, API and gift spend, newest first, in nanostars. */
  outflows: botProcedure
    .meta(rest('GET', '/treasury/outflows', "The bot's Stars outflows, newest first"))
    .input(z.object({ limit: z.number().int().min(1).max(500).default(100) }))
    .query(({ ctx, input }) =>
      listStarOutflows(ctx.db, { projectId: ctx.project.id, limit: input.limit }),
    ),
}
