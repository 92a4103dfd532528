import {
  archiveFeature,
  archiveProduct,
  audited,
  createProduct,
  defineFeature,
  getProduct,
  listFeatures,
  listProducts,
  updateProduct,
} from '@e-stars/billing'
import { z } from 'zod'
import { ownerProcedure, projectProcedure } from '../../trpc.ts'
import {
  featureDefineInput,
  featureKeyInput,
  productArchiveInput,
  productCreateInput,
  productUpdateInput,
} from './inputs.ts'

export const operatorProductsRouter = {
  list: projectProcedure
    .input(z.object({ includeArchived: z.boolean().default(true) }))
    .query(({ ctx, input }) => listProducts(ctx.db, { ...input, projectId: ctx.project.id })),
  create: ownerProcedure.input(productCreateInput).mutation(({ ctx, input }) =>
    audited(ctx.db, (tx) => createProduct(tx, { ...input, projectId: ctx.project.id }), {
      projectId: ctx.project.id,
      actor: ctx.actor,
      action: 'product.create',
      target: `product:${input.key}`,
    }),
  ),
  /** New terms apply to new invoices; open orders keep the price they were issued with. */
  update: ownerProcedure.input(productUpdateInput).mutation(async ({ ctx, input }) =>
    audited(ctx.db, (tx) => updateProduct(tx, { ...input, projectId: ctx.project.id }), {
      projectId: ctx.project.id,
      actor: ctx.actor,
      action: 'product.update',
      target: `product:${input.key}`,
      before: await getProduct(ctx.db, ctx.project.id, input.key),
    }),
  ),
  archive: ownerProcedure.input(productArchiveInput).mutation(({ ctx, input }) =>
    audited(ctx.db, (tx) => archiveProduct(tx, { ...input, projectId: ctx.project.id }), {
      projectId: ctx.project.id,
      actor: ctx.actor,
      action: input.archived ? 'product.archive' : 'product.restore',
      target: `product:${input.key}`,
      after: (p) => ({ archivedAt: p.archivedAt }),
    }),
  ),
}

export const operatorFeaturesRouter = {
  list: projectProcedure.query(({ ctx }) =>
    listFeatures(ctx.db, { projectId: ctx.project.id, includeArchived: true }),
  ),
  define: ownerProcedure.input(featureDefineInput).mutation(({ ctx, input }) =>
    audited(ctx.db, (tx) => defineFeature(tx, { ...input, projectId: ctx.project.id }), {
      projectId: ctx.project.id,
      actor: ctx.actor,
      action: 'feature.define',
      target: `feature:${input.key}`,
    }),
  ),
  archive: ownerProcedure.input(featureKeyInput).mutation(({ ctx, input }) =>
    audited(ctx.db, (tx) => archiveFeature(tx, { ...input, projectId: ctx.project.id }), {
      projectId: ctx.project.id,
      actor: ctx.actor,
      action: 'feature.archive',
      target: `feature:${input.key}`,
    }),
  ),
}
