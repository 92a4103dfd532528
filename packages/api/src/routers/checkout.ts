import { precheck } from '@e-stars/billing'
import { preCheckoutQuery } from '../payment-inputs.ts'
import { paymentProcedure } from '../payment-services.ts'

export const checkoutRouter = {
  /**
   * Decides a `pre_checkout_query`: answer Telegram with
   * `answerPreCheckoutQuery(id, ok, errorMessage)`. Read-only, one query.
   */
  precheck: paymentProcedure
    .input(preCheckoutQuery)
    .mutation(({ ctx, input }) =>
      precheck(ctx.db, { projectId: ctx.project.id, query: input, secrets: ctx.payments.secrets }),
    ),
}
