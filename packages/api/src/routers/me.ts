import {
  BotTokenMissing,
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
  InitDataRejected,
  NotFound,
} from '@e-stars/billing'
import { TRPCError } from '@trpc/server'
import { z } from 'zod'
import { idempotencyKey, limit, MAX_AMOUNT, wholeNumber } from '../inputs.ts'
import { limitMiniAppSignIn } from '../limits.ts'
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

/** What every refused sign-in answers, whatever the reason: the reason stays in the log. */
export const SIGN_IN_REFUSED = 'Sign-in refused'

/**
 * A refusal that would tell an unauthenticated caller which projects exist, which have a bot
 * token, or how their init data failed, becomes one answer; the detail is logged. Only
 * `missing` (no init data at all) stays apart: it is decided before any project is looked up.
 */
function refusedAlike(
  error: unknown,
  log: { warn(obj: object, msg?: string): void },
  projectId: string,
): unknown {
  const reason =
    error instanceof InitDataRejected
      ? error.reason
      : error instanceof NotFound
        ? 'no_project'
        : error instanceof BotTokenMissing
          ? 'no_bot_token'
          : null
  if (reason === null || reason === 'missing') return error
  log.warn({ projectId, reason }, 'Mini App sign-in refused')
  return new TRPCError({
    code: 'UNAUTHORIZED',
    message: SIGN_IN_REFUSED,
    cause: new InitDataRejected('refused'),
  })
}

/** The one public door of a Mini App: Telegram init data in, a customer token out. */
export const miniAppRouter = {
  /**
   * Verifies `Telegram.WebApp.initData` against the bot token of project `projectId` and returns
   * a short-lived token for that project and that user only (the same init data again: the same
   * live session). Refusals are UNAUTHORIZED "Sign-in refused" with `error.data.billing =
   * { code: 'INIT_DATA_REJECTED', reason: 'refused' }` — one answer for an unknown project, one
   * without a bot token, a bad signature or an old init data — or `reason: 'missing'` when there
   * is no init data. Refusals are limited per address and per project: TOO_MANY_REQUESTS with
   * `Retry-After`.
   */
  signIn: publicProcedure
    .input(
      z.object({
        // One spelling per project: the limit's key and the token name it in lower case.
        projectId: z.uuid().transform((id) => id.toLowerCase()),
        initData: line(TEXT_LIMITS.signedData),
      }),
    )
    .mutation(({ ctx, input }) => {
      const secrets = paymentsOf(ctx).secrets
      return limitMiniAppSignIn(ctx.limits, { ip: ctx.clientIp, projectId: input.projectId }, () =>
        createCustomerSession(ctx.db, {
          projectId: input.projectId,
          initData: input.initData,
          secrets,
          policy: ctx.customerSessionPolicy,
        }).catch((error: unknown) => {
          throw refusedAlike(error, ctx.logger, input.projectId)
        }),
      )
    }),
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
