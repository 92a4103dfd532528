import { applyCatalog, listProducts } from '@e-stars/billing'
import { z } from 'zod'
import { rest } from '../rest/route.ts'
import { botProcedure } from '../trpc.ts'
import { productCreateInput } from './operator/inputs.ts'

export const productsRouter = {
  /** The catalog on sale, in display order (operators manage it in the console). */
  list: botProcedure
    .meta(rest('GET', '/products', 'The catalog on sale, in display order'))
    .query(({ ctx }) => listProducts(ctx.db, { projectId: ctx.project.id })),
  /**
   * A bot's catalog file, applied on start: creates and updates its products, idempotently; a
   * product an operator changed in the console is kept as they left it (`outcome: 'kept'`).
   */
  apply: botProcedure
    .meta(rest('POST', '/products/apply', "Apply a bot's catalog file, idempotently"))
    .input(z.object({ products: z.array(productCreateInput).max(100) }))
    .mutation(({ ctx, input }) =>
      applyCatalog(ctx.db, {
        projectId: ctx.project.id,
        actor: `api-key:${ctx.project.keyId}`,
        products: input.products,
      }),
    ),
}
