import {
  cancelSubscription,
  getPayment,
  listPayments,
  listSubscriptions,
  recordPayment,
  recordRefund,
  refundPayment,
} from '@e-stars/billing'
import {
  cancelSubscriptionInput,
  listPaymentsInput,
  paymentRef,
  recordPaymentInput,
  recordRefundInput,
  refundInput,
  subscriptionsInput,
} from '../payment-inputs.ts'
import { actorOf, paymentProcedure } from '../payment-services.ts'
import { rest } from '../rest/route.ts'
import { botProcedure } from '../trpc.ts'

export const paymentsRouter = {
  /**
   * Records a `successful_payment` (with the message's `from`) exactly once per charge id and
   * grants what it bought; a repeat returns the same payment with `duplicate: true`.
   */
  record: paymentProcedure
    .meta(rest('POST', '/payments', 'Record a successful_payment, once per charge id'))
    .input(recordPaymentInput)
    .mutation(({ ctx, input }) =>
      recordPayment(ctx.db, {
        projectId: ctx.project.id,
        payment: input.successfulPayment,
        from: input.from,
        secrets: ctx.payments.secrets,
        via: 'api',
      }),
    ),
  /** Ingests a `refunded_payment` and revokes what the payment bought, once. */
  recordRefund: paymentProcedure
    .meta(rest('POST', '/payments/refunded', 'Record a refunded_payment and revoke, once'))
    .input(recordRefundInput)
    .mutation(({ ctx, input }) =>
      recordRefund(ctx.db, {
        projectId: ctx.project.id,
        refund: input.refundedPayment,
        from: input.from,
        via: 'api',
      }),
    ),
  /** Refunds the Stars through the project's bot (refundStarPayment), then revokes, once. */
  refund: paymentProcedure
    .meta(
      rest(
        'POST',
        '/payments/{telegramPaymentChargeId}/refund',
        'Refund the Stars through the bot, then revoke',
      ),
    )
    .input(refundInput)
    .mutation(async ({ ctx, input }) =>
      refundPayment(ctx.db, {
        projectId: ctx.project.id,
        telegramPaymentChargeId: input.telegramPaymentChargeId,
        reason: input.reason,
        by: actorOf(ctx),
        botApi: await ctx.payments.botApiFor(ctx.project.id),
      }),
    ),
  get: botProcedure
    .meta(rest('GET', '/payments/{telegramPaymentChargeId}', 'One payment'))
    .input(paymentRef)
    .query(({ ctx, input }) => getPayment(ctx.db, { projectId: ctx.project.id, ...input })),
  /** Newest first; `flagged: true` lists what needs an operator's eye. */
  list: botProcedure
    .meta(rest('GET', '/payments', 'Payments, newest first'))
    .input(listPaymentsInput)
    .query(({ ctx, input }) => listPayments(ctx.db, { projectId: ctx.project.id, ...input })),
  subscriptions: botProcedure
    .meta(rest('GET', '/customers/{telegramUserId}/subscriptions', "The customer's subscriptions"))
    .input(subscriptionsInput)
    .query(({ ctx, input }) =>
      listSubscriptions(ctx.db, {
        projectId: ctx.project.id,
        telegramUserId: input.telegramUserId,
      }),
    ),
  /** Stops renewal (editUserStarSubscription); access stays until the paid period ends. */
  cancelSubscription: paymentProcedure
    .meta(rest('POST', '/subscriptions/{subscriptionId}/cancel', 'Stop (or resume) renewal'))
    .input(cancelSubscriptionInput)
    .mutation(async ({ ctx, input }) =>
      cancelSubscription(ctx.db, {
        projectId: ctx.project.id,
        subscriptionId: input.subscriptionId,
        canceled: input.canceled,
        botApi: await ctx.payments.botApiFor(ctx.project.id),
      }),
    ),
}
