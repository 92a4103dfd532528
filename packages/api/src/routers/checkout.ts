import { precheck } from '@e-stars/billing'
import { preCheckoutQuery } from '../payment-inputs.ts'
import { paymentProcedure } from '../payment-services.ts'
import { rest } from '../rest/route.ts'

export const checkoutRouter = {
  /**
   * Decides a `pre_checkout_query`: answer Telegram with
   * `answerPreCheckoutQuery(id, ok, errorMessage)`. Read-only, one query.
   */
  precheck: paymentProcedure
    .meta(rest('POST', '/checkout/precheck', 'Decide a pre_checkout_query'))
    .input(preCheckoutQuery)
    .mutation(({ ctx, input }) =>
      precheck(ctx.db, { projectId: ctx.project.id, query: input, secrets: ctx.payments.secrets }),
    ),
}
