import { listLedger, listTimeline } from '@e-stars/billing'
import { ledgerListInput } from '../inputs.ts'
import { rest } from '../rest/route.ts'
import { botProcedure } from '../trpc.ts'

export const ledgerRouter = {
  /** Newest first; pass `nextCursor` back as `cursor` for the next page. */
  list: botProcedure
    .meta(rest('GET', '/customers/{telegramUserId}/ledger', 'Ledger entries, newest first'))
    .input(ledgerListInput)
    .query(({ ctx, input }) => listLedger(ctx.db, { ...input, projectId: ctx.project.id })),
  /**
   * The same entries newest first, each with its sentence in plain words (`description.text`,
   * e.g. "−12 credits: AI answer, 1 200 tokens") — what a bot's /usage shows its user.
   */
  timeline: botProcedure
    .meta(rest('GET', '/customers/{telegramUserId}/timeline', 'Ledger entries in plain words'))
    .input(ledgerListInput)
    .query(({ ctx, input }) => listTimeline(ctx.db, { ...input, projectId: ctx.project.id })),
}
