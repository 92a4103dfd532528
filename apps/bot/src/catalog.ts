import type { RouterInputs } from '@e-stars/api/client'

/** One product as the bot sells it: the terms `products.apply` writes to the project. */
export type CatalogProduct = RouterInputs['products']['apply']['products'][number]

/**
 * What this bot sells, in one file: fork the bot, change a price or a pack here, and the next
 * start applies it to the project (`applyCatalog`). A product an operator changed in the console
 * since keeps the console's terms, and the start-up log says so. The tests read these too.
 * Titles ≤ 32 characters and descriptions ≤ 255 (Telegram shows them on the invoice).
 */
export const CATALOG: CatalogProduct[] = [
  {
    key: 'pack_s',
    kind: 'pack',
    title: 'Pack S',
    description: '500 credits for AI answers',
    priceStars: 50,
    credits: 500,
    sortOrder: 1,
  },
  {
    key: 'pack_m',
    kind: 'pack',
    title: 'Pack M',
    description: '1200 credits for AI answers',
    priceStars: 100,
    credits: 1200,
    sortOrder: 2,
  },
  {
    key: 'pack_l',
    kind: 'pack',
    title: 'Pack L',
    description: '3500 credits for AI answers',
    priceStars: 250,
    credits: 3500,
    sortOrder: 3,
  },
  {
    key: 'pro_30d',
    kind: 'unlock',
    title: 'Pro for 30 days',
    description: 'Pro features for 30 days',
    priceStars: 150,
    featureKey: 'pro',
    durationDays: 30,
    sortOrder: 4,
  },
  {
    key: 'pro_lifetime',
    kind: 'unlock',
    title: 'Pro for life',
    description: 'Pro features, forever',
    priceStars: 500,
    featureKey: 'pro',
    durationDays: null,
    sortOrder: 5,
  },
  {
    key: 'plus',
    kind: 'subscription',
    title: 'Plus',
    description: 'Pro features and 1500 credits every month',
    priceStars: 200,
    credits: 1500,
    featureKey: 'pro',
    sortOrder: 6,
  },
]
