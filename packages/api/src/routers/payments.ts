import {
  cancelSubscription,
  getPayment,
  listPayments,
  listSubscriptions,
  recordPaidMediaPurchase,
  recordPayment,
  recordRefund,
  recordSubscriptionUpdate,
  refundPayment,
  sendPaidMediaProduct,
  subscriptionHistory,
} from '@e-stars/billing'
import { z } from 'zod'
import { telegramUserId } from '../inputs.ts'
import {
  cancelSubscriptionInput,
  listPaymentsInput,
  paymentRef,
  recordPaymentInput,
  recordRefundInput,
  refundInput,
  subscriptionsInput,
  telegramUser,
} from '../payment-inputs.ts'
import { catalogKey, line } from '../text.ts'

/** Bot API 10.2 `BotSubscriptionUpdated`; an unknown `state` is stored and flagged, not refused. */
const subscriptionUpdateInput = z.object({
  updateId: z.number().int().min(0).optional(),
  subscription: z.object({
    user: telegramUser,
    invoice_payload: line(4096),
    state: line(32, { min: 1 }),
  }),
})
/** `Update.purchased_paid_media`. */
const paidMediaPurchaseInput = z.object({
  updateId: z.number().int().min(0).optional(),
  purchase: z.object({ from: telegramUser, paid_media_payload: line(128) }),
})

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
  /**
   * Refunds the Stars through the project's bot (refundStarPayment), then revokes, once; a
   * subscription charge's renewal is then stopped (editUserStarSubscription, after the commit).
   */
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
  /** Records a `subscription` update (cancel, re-enable, failed renewal) at once; once per update. */
  recordSubscriptionUpdate: paymentProcedure
    .meta(rest('POST', '/subscriptions/updates', 'Record a subscription state update'))
    .input(subscriptionUpdateInput)
    .mutation(({ ctx, input }) =>
      recordSubscriptionUpdate(ctx.db, {
        projectId: ctx.project.id,
        update: input.subscription,
        updateId: input.updateId,
        secrets: ctx.payments.secrets,
      }),
    ),
  /** Records a `purchased_paid_media` update: a payment, once per post, granting its product. */
  recordPaidMediaPurchase: paymentProcedure
    .meta(rest('POST', '/payments/paid-media', 'Record a purchased_paid_media update, once'))
    .input(paidMediaPurchaseInput)
    .mutation(({ ctx, input }) =>
      recordPaidMediaPurchase(ctx.db, {
        projectId: ctx.project.id,
        purchase: input.purchase,
        updateId: input.updateId,
        secrets: ctx.payments.secrets,
        via: 'api',
      }),
    ),
  /** Sends a paid-media product to a customer (sendPaidMedia with its price and a signed payload). */
  sendPaidMedia: paymentProcedure
    .meta(rest('POST', '/paid-media', 'Send a paid-media product to a customer'))
    .input(z.object({ telegramUserId, productKey: catalogKey }))
    .mutation(async ({ ctx, input }) => {
      const botApi = await ctx.payments.botApiFor(ctx.project.id)
      return sendPaidMediaProduct(ctx.db, {
        projectId: ctx.project.id,
        telegramUserId: input.telegramUserId,
        productKey: input.productKey,
        secrets: ctx.payments.secrets,
        sendPaidMedia: async (params) =>
          (await botApi.call('sendPaidMedia', params)) as { message_id: number },
      })
    }),
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
  /** A subscription's renewal-state history, oldest first. */
  subscriptionHistory: botProcedure
    .meta(rest('GET', '/subscriptions/{subscriptionId}/history', 'Renewal-state history'))
    .input(z.object({ subscriptionId: z.uuid() }))
    .query(({ ctx, input }) =>
      subscriptionHistory(ctx.db, { projectId: ctx.project.id, ...input }),
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
