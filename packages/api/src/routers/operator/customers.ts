import {
  adjustCredits,
  audited,
  blockCustomer,
  getBalance,
  getCustomerDetail,
  getCustomerQuotaUsage,
  grantEntitlementByOperator,
  listTimeline,
  renewingSubscriptionIds,
  revokeEntitlement,
  searchCustomers,
  stopRenewalsAfter,
  unblockCustomer,
} from '@e-stars/billing'
import { z } from 'zod'
import { ownerProcedure, projectProcedure } from '../../trpc.ts'
import {
  adjustInput,
  customerInput,
  customerSearchInput,
  entitlementGrantInput,
  entitlementRevokeInput,
  timelineInput,
} from './inputs.ts'

const blockInput = customerInput.extend({ blocked: z.boolean() })

export const operatorCustomersRouter = {
  /** By Telegram id, @username or name prefix; newest first; `nextCursor` pages on. */
  search: projectProcedure
    .input(customerSearchInput)
    .query(({ ctx, input }) => searchCustomers(ctx.db, { ...input, projectId: ctx.project.id })),
  detail: projectProcedure.input(customerInput).query(({ ctx, input }) =>
    getCustomerDetail(ctx.db, {
      projectId: ctx.project.id,
      telegramUserId: input.telegramUserId,
    }),
  ),
  /** Exact to the instant: lots (remaining, expiry, source) and holds. */
  balance: projectProcedure
    .input(customerInput)
    .query(({ ctx, input }) =>
      getBalance(ctx.db, { projectId: ctx.project.id, telegramUserId: input.telegramUserId }),
    ),
  /** Quotas and free allowances binding the customer now: used, limit, reset. */
  quotas: projectProcedure.input(customerInput).query(({ ctx, input }) =>
    getCustomerQuotaUsage(ctx.db, {
      projectId: ctx.project.id,
      telegramUserId: input.telegramUserId,
    }),
  ),
  /** The ledger in plain words, newest first. */
  timeline: projectProcedure
    .input(timelineInput)
    .query(({ ctx, input }) => listTimeline(ctx.db, { ...input, projectId: ctx.project.id })),
  /** Grant (positive) or take away (negative) credits, with a reason; audited. */
  adjust: ownerProcedure.input(adjustInput).mutation(({ ctx, input }) =>
    adjustCredits(ctx.db, {
      ...input,
      expiresAt: input.expiresAt ? new Date(input.expiresAt) : null,
      projectId: ctx.project.id,
      actor: ctx.actor,
    }),
  ),
  /**
   * A blocked customer can neither buy nor consume. Blocking also stops their subscriptions'
   * renewal at Telegram (editUserStarSubscription), after the block committed.
   */
  setBlocked: ownerProcedure.input(blockInput).mutation(async ({ ctx, input }) => {
    const customer = await audited(
      ctx.db,
      (tx) =>
        (input.blocked ? blockCustomer : unblockCustomer)(tx, {
          projectId: ctx.project.id,
          telegramUserId: input.telegramUserId,
        }),
      {
        projectId: ctx.project.id,
        actor: ctx.actor,
        action: input.blocked ? 'customer.block' : 'customer.unblock',
        target: `customer:${input.telegramUserId}`,
        before: { blocked: !input.blocked },
        after: (c) => ({ blocked: c.blocked }),
      },
    )
    if (input.blocked && ctx.payments) {
      const subscriptionIds = await renewingSubscriptionIds(ctx.db, {
        projectId: ctx.project.id,
        telegramUserId: input.telegramUserId,
      })
      // No bot token: nothing renews through e-Stars' bot; the block itself stands either way.
      const botApi = subscriptionIds.length
        ? await ctx.payments.botApiFor(ctx.project.id).catch(() => null)
        : null
      if (botApi)
        await stopRenewalsAfter(ctx.db, {
          projectId: ctx.project.id,
          reason: 'block',
          subscriptionIds,
          botApi,
        })
    }
    return customer
  }),
  /** Access to a gated feature by hand (support, promotions); stacks on current access. */
  grantEntitlement: ownerProcedure.input(entitlementGrantInput).mutation(({ ctx, input }) =>
    audited(
      ctx.db,
      (tx) =>
        grantEntitlementByOperator(tx as typeof ctx.db, {
          projectId: ctx.project.id,
          telegramUserId: input.telegramUserId,
          featureKey: input.featureKey,
          durationDays: input.durationDays ?? undefined,
          actor: ctx.actor,
        }),
      {
        projectId: ctx.project.id,
        actor: ctx.actor,
        action: 'entitlement.grant',
        target: `customer:${input.telegramUserId}`,
      },
    ),
  ),
  revokeEntitlement: ownerProcedure.input(entitlementRevokeInput).mutation(({ ctx, input }) =>
    audited(
      ctx.db,
      (tx) =>
        revokeEntitlement(tx, {
          projectId: ctx.project.id,
          entitlementId: input.entitlementId,
          reason: input.reason,
          by: ctx.actor,
        }),
      {
        projectId: ctx.project.id,
        actor: ctx.actor,
        action: 'entitlement.revoke',
        target: `entitlement:${input.entitlementId}`,
        before: { revoked: false },
        after: (r) => ({ revokedAt: r.revokedAt, reason: input.reason }),
      },
    ),
  ),
}
