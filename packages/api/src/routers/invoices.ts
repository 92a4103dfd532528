import { createInvoice } from '@e-stars/billing'
import { createInvoiceInput } from '../payment-inputs.ts'
import { paymentProcedure } from '../payment-services.ts'
import { rest } from '../rest/route.ts'

export const invoicesRouter = {
  /**
   * Issues an order for one customer and one product. Packs and unlocks: pass `sendInvoice` to
   * Telegram's sendInvoice as is. Subscriptions: send or open `invoiceLink`.
   */
  create: paymentProcedure
    .meta(rest('POST', '/invoices', 'Issue an order: sendInvoice parameters or an invoice link'))
    .input(createInvoiceInput)
    .mutation(({ ctx, input }) =>
      createInvoice(ctx.db, {
        projectId: ctx.project.id,
        telegramUserId: input.telegramUserId,
        productKey: input.productKey,
        ttlSeconds: input.ttlSeconds,
        profile: input,
        secrets: ctx.payments.secrets,
        createInvoiceLink: async (params) =>
          (await ctx.payments.botApiFor(ctx.project.id)).createInvoiceLink(params),
      }),
    ),
}
