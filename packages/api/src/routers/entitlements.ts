import { listCustomerEntitlements } from '@e-stars/billing'
import { customerRef } from '../inputs.ts'
import { botProcedure } from '../trpc.ts'

export const entitlementsRouter = {
  /**
   * The customer's entitlements in force or starting later, each with its source (unlock,
   * subscription, operator), and per feature when access ends (`until: null`: for life).
   */
  list: botProcedure
    .input(customerRef)
    .query(({ ctx, input }) =>
      listCustomerEntitlements(ctx.db, { projectId: ctx.project.id, ...input }),
    ),
}
