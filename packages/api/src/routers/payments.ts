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
import { botProcedure } from '../trpc.ts'

export const paymentsRouter = {
  /**
   * Records a `successful_payment` (with the message's `from`) exactly once per charge id and
   * grants what it bought; a repeat returns the same payment with `duplicate: true`.
   */
  record: paymentProcedure.input(recordPaymentInput).mutation(({ ctx, input }) =>
    recordPayment(ctx.db, {
      projectId: ctx.project.id,
      payment: input.successfulPayment,
      from: input.from,
      secrets: ctx.payments.secrets,
      via: 'api',
    }),
  ),
  /** Ingests a `refunded_payment` and revokes what the payment bought, once. */
  recordRefund: paymentProcedure.input(recordRefundInput).mutation(({ ctx, input }) =>
    recordRefund(ctx.db, {
      projectId: ctx.project.id,
      refund: input.refundedPayment,
      from: input.from,
      via: 'api',
    }),
  ),
  /** Refunds the Stars through the project's bot (refundStarPayment), then revokes, once. */
  refund: paymentProcedure.input(refundInput).mutation(async ({ ctx, input }) =>
    refundPayment(ctx.db, {
      projectId: ctx.project.id,
      telegramPaymentChargeId: input.telegramPaymentChargeId,
      reason: input.reason,
      by: actorOf(ctx),
      botApi: await ctx.payments.botApiFor(ctx.project.id),
    }),
  ),
  get: botProcedure
    .input(paymentRef)
    .query(({ ctx, input }) => getPayment(ctx.db, { projectId: ctx.project.id, ...input })),
  /** Newest first; `flagged: true` lists what needs an operator's eye. */
  list: botProcedure
    .input(listPaymentsInput)
    .query(({ ctx, input }) => listPayments(ctx.db, { projectId: ctx.project.id, ...input })),
  subscriptions: botProcedure.input(subscriptionsInput).query(({ ctx, input }) =>
    listSubscriptions(ctx.db, {
      projectId: ctx.project.id,
      telegramUserId: input.telegramUserId,
    }),
  ),
  /** Stops renewal (editUserStarSubscription); access stays until the paid period ends. */
  cancelSubscription: paymentProcedure
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
