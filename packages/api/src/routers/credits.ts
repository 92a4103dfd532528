import { getBalance, grantCredits } from '@e-stars/billing'
import { customerRef, grantInput } from '../inputs.ts'
import { rest } from '../rest/route.ts'
import { botProcedure } from '../trpc.ts'

export const creditsRouter = {
  /** Available, held and debt, with the live lots in burn order and the open holds. */
  balance: botProcedure
    .meta(
      rest(
        'GET',
        '/customers/{telegramUserId}/balance',
        'Available, held and debt, with lots and holds',
      ),
    )
    .input(customerRef)
    .query(({ ctx, input }) =>
      getBalance(ctx.db, { projectId: ctx.project.id, telegramUserId: input.telegramUserId }),
    ),
  grant: botProcedure
    .meta(
      rest('POST', '/credits/grant', 'Grant credits (promo, manual, free allowance, adjustment)'),
    )
    .input(grantInput)
    .mutation(({ ctx, input }) =>
      grantCredits(ctx.db, {
        ...input,
        expiresAt: input.expiresAt ? new Date(input.expiresAt) : null,
        projectId: ctx.project.id,
        actor: `api-key:${ctx.project.keyId}`,
      }),
    ),
}
