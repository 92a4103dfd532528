import { listProducts } from '@e-stars/billing'
import { botProcedure } from '../trpc.ts'

export const productsRouter = {
  /** The catalog on sale, in display order (operators manage it in the console). */
  list: botProcedure.query(({ ctx }) => listProducts(ctx.db, { projectId: ctx.project.id })),
}
