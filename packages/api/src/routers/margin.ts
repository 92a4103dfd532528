import {
  addCostCap,
  defaultPrices,
  getMarginSettings,
  listCostCaps,
  listFeatureMarginFloors,
  listPriceBook,
  marginBreakdown,
  marginCsv,
  marginSummary,
  removeCostCap,
  removeModelPrice,
  setFeatureMarginFloor,
  setModelPrice,
  unprofitableCustomers,
  updateMarginSettings,
} from '@e-stars/billing'
import { z } from 'zod'
import { instant, limit, MAX_AMOUNT, telegramUserId, wholeNumber } from '../inputs.ts'
import { line } from '../text.ts'
import { ownerProcedure, projectProcedure } from '../trpc.ts'

/** Micro-USD: whole, 0 or more. A negative price must never mint revenue. */
const micros = wholeNumber(0, MAX_AMOUNT)
const name = (max: number) => line(max).refine((s) => s.trim() !== '', 'must not be empty')

const DAY_MS = 86_400_000

/** A period: `from` ≤ t < `to`; the last 30 days by default. */
const period = z.object({ from: instant.optional(), to: instant.optional() })
const periodOf = (input: { from?: string | undefined; to?: string | undefined }) => {
  const to = input.to ? new Date(input.to) : new Date()
  const from = input.from ? new Date(input.from) : new Date(to.getTime() - 30 * DAY_MS)
  return { from, to }
}

export const marginDimension = z.enum(['day', 'feature', 'model', 'product', 'customer'])

/**
 * Strict, so a misspelt or unknown field (a `currency`: every amount is micro-USD) is refused;
 * `projectId` is listed because tRPC hands every input parser the whole input.
 */
const projectId = z.uuid()

export const priceInput = z.strictObject({
  projectId,
  provider: name(100),
  model: name(200),
  inputPerMillionMicros: micros,
  outputPerMillionMicros: micros,
  cachedInputPerMillionMicros: micros.nullable().optional(),
})

export const costCapInput = z.strictObject({
  projectId,
  scope: z.enum(['project', 'product', 'customer']),
  period: z.enum(['day', 'month']),
  /** A cap of 0 would stop every act: refused, like a negative one. */
  capMicros: wholeNumber(1, MAX_AMOUNT),
  productKey: name(64).optional(),
  telegramUserId: telegramUserId.optional(),
})

export const marginSettingsInput = z.strictObject({
  projectId,
  usdPerStarMicros: micros.optional(),
  unpricedModelPolicy: z.enum(['refuse', 'flag']).optional(),
  marginAlertPercent: wholeNumber(-100, 100).nullable().optional(),
})

export const featureFloorInput = z.strictObject({
  projectId,
  featureKey: name(64),
  /** Percent of the held credits' value the expected cost must leave; null removes the floor. */
  floorPercent: wholeNumber(0, 100).nullable(),
})

/**
 * Margin control, from the console (session cookie; owners change, viewers read): revenue, cost
 * and margin per day, feature, model, product and customer, with CSV; the price book; cost caps;
 * the USD-per-Star rate and the unpriced-model policy.
 */
export const marginRouter = {
  summary: projectProcedure
    .input(period)
    .query(({ ctx, input }) =>
      marginSummary(ctx.db, { projectId: ctx.project.id, ...periodOf(input) }),
    ),
  breakdown: projectProcedure
    .input(period.extend({ by: marginDimension, limit: limit(1000, 200) }))
    .query(({ ctx, input }) =>
      marginBreakdown(ctx.db, {
        projectId: ctx.project.id,
        ...periodOf(input),
        by: input.by,
        limit: input.limit,
      }),
    ),
  unprofitableCustomers: projectProcedure
    .input(period.extend({ limit: limit(500, 100) }))
    .query(({ ctx, input }) =>
      unprofitableCustomers(ctx.db, {
        projectId: ctx.project.id,
        ...periodOf(input),
        limit: input.limit,
      }),
    ),
  /** The breakdown as CSV text (the console downloads it as a file). */
  csv: projectProcedure
    .input(period.extend({ by: marginDimension }))
    .query(async ({ ctx, input }) => {
      const found = await marginBreakdown(ctx.db, {
        projectId: ctx.project.id,
        ...periodOf(input),
        by: input.by,
        limit: 100_000,
      })
      return { filename: `margin-by-${input.by}.csv`, csv: marginCsv(input.by, found) }
    }),
  prices: projectProcedure.query(({ ctx }) => listPriceBook(ctx.db, ctx.project.id)),
  /** The prices shipped offline (tokenlens), for one provider: what an unpriced book falls back to. */
  defaultPrices: projectProcedure
    .input(z.object({ provider: name(100) }))
    .query(({ input }) => defaultPrices(input.provider)),
  setPrice: ownerProcedure
    .input(priceInput)
    .mutation(({ ctx, input: { projectId: _, ...price } }) =>
      setModelPrice(ctx.db, { ...price, projectId: ctx.project.id, updatedBy: ctx.actor }),
    ),
  removePrice: ownerProcedure
    .input(z.object({ provider: name(100), model: name(200) }))
    .mutation(({ ctx, input }) =>
      removeModelPrice(ctx.db, { ...input, projectId: ctx.project.id }),
    ),
  caps: projectProcedure.query(({ ctx }) => listCostCaps(ctx.db, ctx.project.id)),
  addCap: ownerProcedure
    .input(costCapInput)
    .mutation(({ ctx, input: { projectId: _, ...cap } }) =>
      addCostCap(ctx.db, { ...cap, projectId: ctx.project.id }),
    ),
  removeCap: ownerProcedure
    .input(z.object({ capId: z.uuid() }))
    .mutation(({ ctx, input }) =>
      removeCostCap(ctx.db, { projectId: ctx.project.id, capId: input.capId }),
    ),
  settings: projectProcedure.query(({ ctx }) => getMarginSettings(ctx.db, ctx.project.id)),
  updateSettings: ownerProcedure
    .input(marginSettingsInput)
    .mutation(({ ctx, input: { projectId: _, ...patch } }) =>
      updateMarginSettings(ctx.db, { projectId: ctx.project.id, actor: ctx.actor, patch }),
    ),
  /** Each metered feature's margin floor (percent; null: none). */
  featureFloors: projectProcedure.query(({ ctx }) =>
    listFeatureMarginFloors(ctx.db, ctx.project.id),
  ),
  setFeatureFloor: ownerProcedure
    .input(featureFloorInput)
    .mutation(({ ctx, input: { projectId: _, ...floor } }) =>
      setFeatureMarginFloor(ctx.db, { ...floor, projectId: ctx.project.id, actor: ctx.actor }),
    ),
}
