import { listCustomerEntitlements } from '@e-stars/billing'
import { customerRef } from '../inputs.ts'
import { rest } from '../rest/route.ts'
import { botProcedure } from '../trpc.ts'

export const entitlementsRouter = {
  /**
   * The customer's entitlements in force or starting later, each with its source (unlock,
   * subscription, operator), and per feature when access ends (`until: null`: for life).
   */
  list: botProcedure
    .meta(
      rest(
        'GET',
        '/customers/{telegramUserId}/entitlements',
        'Entitlements in force or starting later',
      ),
    )
    .input(customerRef)
    .query(({ ctx, input }) =>
      listCustomerEntitlements(ctx.db, { projectId: ctx.project.id, ...input }),
    ),
}
