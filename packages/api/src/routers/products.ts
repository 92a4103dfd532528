import { applyProduct, listProducts } from '@e-stars/billing'
import { z } from 'zod'
import { botProcedure } from '../trpc.ts'
import { productCreateInput } from './operator/inputs.ts'

export const productsRouter = {
  /** The catalog on sale, in display order (operators manage it in the console). */
  list: botProcedure.query(({ ctx }) => listProducts(ctx.db, { projectId: ctx.project.id })),
  /**
   * A bot's catalog file, applied on start: creates and updates its products, idempotently; a
   * product an operator changed in the console is kept as they left it (`outcome: 'kept'`).
   */
  apply: botProcedure
    .input(z.object({ products: z.array(productCreateInput).max(100) }))
    .mutation(async ({ ctx, input }) => {
      const results = []
      for (const product of input.products)
        results.push(
          await applyProduct(ctx.db, {
            projectId: ctx.project.id,
            actor: `api-key:${ctx.project.keyId}`,
            product,
          }),
        )
      return results
    }),
}
