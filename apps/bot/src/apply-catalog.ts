import type { EStarsClient } from '@e-stars/api/client'
import type { Logger } from '@e-stars/telegraf'
import { CATALOG, type CatalogProduct } from './catalog.ts'

/**
 * Applies the bot's catalog (catalog.ts) to its project, on every start: missing products are
 * created, changed ones updated, equal ones left alone. A product an operator has edited in the
 * console keeps the console's terms; that is logged, once per product, so the file's change is
 * not lost silently.
 */
export async function applyCatalog(
  client: EStarsClient,
  logger: Logger,
  products: CatalogProduct[] = CATALOG,
) {
  const results = await client.products.apply.mutate({ products })
  for (const r of results) {
    if (r.outcome === 'kept')
      logger.warn(
        { productKey: r.key, editedBy: r.editedBy },
        'catalog.ts differs from the console for this product; the console’s version wins (edit it there, or undo the console edit)',
      )
    else if (r.outcome !== 'unchanged')
      logger.info({ productKey: r.key, outcome: r.outcome }, 'catalog applied')
  }
  return results
}
