import {
  buyAsCustomer,
  checkAccess,
  consumeAsCustomer,
  createCustomerSession,
  customerActivity,
  customerCatalog,
  customerEntitlements,
  customerQuotas,
  endCustomerSession,
  getBalance,
  getCustomer,
} from '@e-stars/billing'
import { TRPCError } from '@trpc/server'
import { z } from 'zod'
import { idempotencyKey, limit, MAX_AMOUNT, wholeNumber } from '../inputs.ts'
import type { PaymentServices } from '../payment-services.ts'
import { catalogKey, line, TEXT_LIMITS } from '../text.ts'
import { customerProcedure, publicProcedure } from '../trpc.ts'
import { featureKey } from './features.ts'

const quantity = wholeNumber(1, MAX_AMOUNT)

const paymentsOf = (ctx: { payments: PaymentServices | null }) => {
  if (!ctx.payments)
    throw new TRPCError({
      code: 'PRECONDITION_FAILED',
      message: 'Payments are not configured on this server (SECRET_KEY)',
    })
  return ctx.payments
}

/** The one public door of a Mini App: Telegram init data in, a customer token out. */
export const miniAppRouter = {
  /**
   * Verifies `Telegram.WebApp.initData` against the bot token of project `projectId` and returns
   * a short-lived token for that project and that user only. Refusals are UNAUTHORIZED with
   * `error.data.billing = { code: 'INIT_DATA_REJECTED', reason }` (`missing`, `malformed`,
   * `bad_signature`, `expired`, `from_future`, `no_user`).
   */
  signIn: publicProcedure
    .input(z.object({ projectId: z.uuid(), initData: line(TEXT_LIMITS.signedData) }))
    .mutation(({ ctx, input }) =>
      createCustomerSession(ctx.db, {
        projectId: input.projectId,
        initData: input.initData,
        secrets: paymentsOf(ctx).secrets,
        policy: ctx.customerSessionPolicy,
      }),
    ),
}

/**
 * The signed-in Mini App user (customer token): their own balance, access, usage and purchases,
 * never anyone else's. The project and the customer come from the token, never from input.
 */
export const meRouter = {
  /** Who the token speaks for, and until when. */
  session: customerProcedure.query(async ({ ctx }) => ({
    projectId: ctx.customer.projectId,
    expiresAt: ctx.customer.expiresAt,
    customer: await getCustomer(ctx.db, ctx.customer.projectId, ctx.customer.telegramUserId),
  })),
  /** Credits now: available, held by work in progress, owed; lots with their expiry. */
  balance: customerProcedure.query(async ({ ctx }) => {
    const balance = await getBalance(ctx.db, {
      projectId: ctx.customer.projectId,
      telegramUserId: ctx.customer.telegramUserId,
    })
    return {
      available: balance.available,
      held: balance.held,
      debt: balance.debt,
      lots: balance.lots.map((lot) => ({
        remaining: lot.remaining,
        source: lot.source,
        expiresAt: lot.expiresAt,
      })),
    }
  }),
  entitlements: customerProcedure.query(({ ctx }) => customerEntitlements(ctx.db, ctx.customer)),
  /** Caps and free allowances that bind now, with `used`, `remaining` and `resetsAt`. */
  quotas: customerProcedure.query(({ ctx }) => customerQuotas(ctx.db, ctx.customer)),
  /** Latest changes of credits, newest first, each in one plain sentence. */
  activity: customerProcedure
    .input(z.object({ limit: limit(100, 20) }).default({ limit: 20 }))
    .query(({ ctx, input }) => customerActivity(ctx.db, ctx.customer, input)),
  /** The catalog on sale. */
  products: customerProcedure.query(({ ctx }) => customerCatalog(ctx.db, ctx.customer)),
  /**
   * An invoice link for `Telegram.WebApp.openInvoice(link, callback)`: one-time for packs and
   * unlocks, a 30-day subscription for plans. Whatever status the callback reports, read the
   * balance and entitlements again: they change when the payment is recorded.
   */
  buy: customerProcedure.input(z.object({ productKey: catalogKey })).mutation(({ ctx, input }) => {
    const payments = paymentsOf(ctx)
    return buyAsCustomer(ctx.db, {
      ...ctx.customer,
      productKey: input.productKey,
      secrets: payments.secrets,
      createInvoiceLink: async (params) =>
        (await payments.botApiFor(ctx.customer.projectId)).createInvoiceLink(params),
    })
  }),
  /** May I use `quantity` units of `feature` now? Changes nothing. */
  check: customerProcedure
    .input(z.object({ feature: featureKey, quantity: quantity.default(1) }))
    .query(({ ctx, input }) =>
      checkAccess(ctx.db, {
        projectId: ctx.customer.projectId,
        telegramUserId: ctx.customer.telegramUserId,
        feature: input.feature,
        quantity: input.quantity,
      }),
    ),
  /**
   * Uses units of a feature the operator marked client-consumable (FORBIDDEN
   * `FEATURE_NOT_CLIENT_CONSUMABLE` otherwise: by default consumption stays on the bot's backend).
   */
  consume: customerProcedure
    .input(z.object({ feature: featureKey, quantity, idempotencyKey }))
    .mutation(({ ctx, input }) => consumeAsCustomer(ctx.db, { ...ctx.customer, ...input })),
  /** Ends this token now. */
  signOut: customerProcedure.mutation(({ ctx }) =>
    endCustomerSession(ctx.db, ctx.customerToken ?? ''),
  ),
}
