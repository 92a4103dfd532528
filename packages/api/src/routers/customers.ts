import { getCustomer, upsertCustomer } from '@e-stars/billing'
import { customerRef, upsertCustomerInput } from '../inputs.ts'
import { botProcedure } from '../trpc.ts'

export const customersRouter = {
  /** Creates the customer or refreshes its Telegram profile. */
  upsert: botProcedure
    .input(upsertCustomerInput)
    .mutation(({ ctx, input }) => upsertCustomer(ctx.db, { ...input, projectId: ctx.project.id })),
  get: botProcedure
    .input(customerRef)
    .query(({ ctx, input }) => getCustomer(ctx.db, ctx.project.id, input.telegramUserId)),
}
