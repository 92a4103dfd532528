import {
  listStarOutflows,
  listSubscriptions,
  subscriptionHistory,
  treasury,
} from '@e-stars/billing'
import { TRPCError } from '@trpc/server'
import { z } from 'zod'
import { telegramUserId } from '../inputs.ts'
import { paymentProcedure } from '../payment-services.ts'
import { rest } from '../rest/route.ts'
import { botProcedure, projectProcedure } from '../trpc.ts'

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

/** The console's side: the treasury card and a customer's subscriptions with their history. */
export const operatorTreasuryRouter = {
  summary: projectProcedure.query(async ({ ctx }) => {
    if (!ctx.payments)
      throw new TRPCError({
        code: 'PRECONDITION_FAILED',
        message: 'Payments are not configured on this server (SECRET_KEY)',
      })
    return treasury(ctx.db, {
      projectId: ctx.project.id,
      botApi: await ctx.payments.botApiFor(ctx.project.id),
    })
  }),
  outflows: projectProcedure.query(({ ctx }) =>
    listStarOutflows(ctx.db, { projectId: ctx.project.id, limit: 200 }),
  ),
  /** A customer's subscriptions, each with its renewal-state history (oldest first). */
  subscriptions: projectProcedure
    .input(z.object({ telegramUserId }))
    .query(async ({ ctx, input }) => {
      const list = await listSubscriptions(ctx.db, {
        projectId: ctx.project.id,
        telegramUserId: input.telegramUserId,
      })
      return Promise.all(
        list.map(async (s) => ({
          ...s,
          history: await subscriptionHistory(ctx.db, {
            projectId: ctx.project.id,
            subscriptionId: s.id,
          }),
        })),
      )
    }),
}
