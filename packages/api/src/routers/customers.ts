import { getCustomer, upsertCustomer } from '@e-stars/billing'
import { customerRef, upsertCustomerInput } from '../inputs.ts'
import { rest } from '../rest/route.ts'
import { botProcedure } from '../trpc.ts'

export const customersRouter = {
  /** Creates the customer or refreshes its Telegram profile. */
  upsert: botProcedure
    .meta(rest('POST', '/customers', 'Create a customer or refresh its Telegram profile'))
    .input(upsertCustomerInput)
    .mutation(({ ctx, input }) => upsertCustomer(ctx.db, { ...input, projectId: ctx.project.id })),
  get: botProcedure
    .meta(rest('GET', '/customers/{telegramUserId}', 'One customer'))
    .input(customerRef)
    .query(({ ctx, input }) => getCustomer(ctx.db, ctx.project.id, input.telegramUserId)),
}
