import type { Message } from '@e-stars/sandbox'
import { CATALOG, type CatalogProduct } from '../src/catalog.ts'
import { WORDS } from '../src/wording.ts'

/**
 * What the tests expect, read from the bot's own catalog.ts and wording.ts: a fork that changes a
 * price or a sentence there keeps its tests green (scripts/fork-check.ts proves it).
 */
export { CATALOG, WORDS }

const byKind = (kind: CatalogProduct['kind']) => CATALOG.filter((p) => p.kind === kind)

/** The packs in the order the bot lists them (by sort order, then price). */
export const PACKS = byKind('pack').sort(
  (a, b) => (a.sortOrder ?? 0) - (b.sortOrder ?? 0) || a.priceStars - b.priceStars,
)
/** The cheapest pack: what a refusal's one-tap invoice offers for a small shortfall. */
export const FIRST_PACK = PACKS[0] as CatalogProduct & { credits: number }
export const SUBSCRIPTION = byKind('subscription')[0] as CatalogProduct

/** Every product in display order. */
export const ON_SALE = [...CATALOG].sort(
  (a, b) => (a.sortOrder ?? 0) - (b.sortOrder ?? 0) || a.priceStars - b.priceStars,
)

export const buttonOf = (p: CatalogProduct) => WORDS.buy.button({ ...p, credits: p.credits ?? 0 })

/** A message that starts with `prefix` (a sentence of wording.ts, or its first words). */
export const startsWith = (prefix: string) => (m: Message) => m.text?.startsWith(prefix) ?? false

/** The first `n` words of a sentence: enough to recognise it whatever numbers follow. */
export const opening = (sentence: string, n = 3) => sentence.split(' ').slice(0, n).join(' ')
