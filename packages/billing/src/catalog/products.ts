import { type Executor, products } from '@e-stars/db'
import { and, asc, eq, isNull } from 'drizzle-orm'
import { InvalidInput, NotFound, ProductKeyTaken } from '../errors.ts'
import { transact } from '../ledger/transaction.ts'

export type ProductKind = 'pack' | 'unlock' | 'subscription' | 'paid_media'

/** One item of a paid-media post (`InputPaidMedia`): a photo or a video, by file_id or URL. */
export interface PaidMediaItem {
  type: 'photo' | 'video'
  media: string
}

/** What defines a product; prices are whole Stars, credits whole credits. */
export interface ProductTerms {
  kind: ProductKind
  title: string
  description: string
  priceStars: number
  /** Credits granted per purchase (packs) or per period (subscriptions). */
  credits?: number | undefined
  /** Credits of this product expire this many days after the payment; null: never. */
  creditsExpireDays?: number | null | undefined
  /** The gated feature an unlock or subscription grants. */
  featureKey?: string | null | undefined
  /** Unlocks only: access for this many days; null: for life. */
  durationDays?: number | null | undefined
  /**
   * Subscriptions only: the period in days. Telegram has exactly one, 30 days
   * (`subscription_period` 2592000); anything else is refused rather than silently rounded.
   */
  periodDays?: number | undefined
  /** Paid media only: the 1–10 photos and videos `sendPaidMedia` sends behind the price. */
  media?: PaidMediaItem[] | null | undefined
  sortOrder?: number | undefined
}

export interface CreateProductInput extends ProductTerms {
  projectId: string
  key: string
}

export type ProductPatch = Partial<Omit<ProductTerms, 'kind'>>

/** Telegram's limits: title 1–32 characters, description 1–255, subscriptions ≤ 10000 Stars. */
const KEY = /^[a-z0-9][a-z0-9_.-]{0,63}$/
const FEATURE = /^[a-z0-9][a-z0-9_.:-]{0,63}$/
export const SUBSCRIPTION_DAYS = 30
/** `sendPaidMedia.star_count`: 1–25,000 Stars (Bot API 9.3). */
export const PAID_MEDIA_MAX_STARS = 25_000
const MAX_PRICE: Record<ProductKind, number> = {
  pack: 100_000,
  unlock: 100_000,
  subscription: 10_000,
  paid_media: PAID_MEDIA_MAX_STARS,
}

function validateMedia(media: PaidMediaItem[] | null | undefined) {
  if (!Array.isArray(media) || media.length < 1 || media.length > 10)
    throw new InvalidInput('media', 'paid media must hold 1–10 photos or videos')
  media.forEach((item, i) => {
    if (item === null || typeof item !== 'object' || !['photo', 'video'].includes(item.type))
      throw new InvalidInput(`media[${i}].type`, 'must be photo or video')
    if (typeof item.media !== 'string' || item.media.trim() === '' || item.media.length > 2048)
      throw new InvalidInput(
        `media[${i}].media`,
        'must be a file_id or an HTTP URL (1–2048 characters)',
      )
  })
}

function validate(terms: ProductTerms) {
  const chars = (s: string) => [...s].length
  const positiveInt = (v: number | null | undefined) =>
    v == null || (Number.isSafeInteger(v) && v > 0)
  if (!['pack', 'unlock', 'subscription', 'paid_media'].includes(terms.kind))
    throw new InvalidInput('kind', 'must be pack, unlock, subscription or paid_media')
  if (chars(terms.title.trim()) < 1 || chars(terms.title) > 32)
    throw new InvalidInput('title', 'must be 1–32 characters (Telegram shows it on the invoice)')
  if (chars(terms.description.trim()) < 1 || chars(terms.description) > 255)
    throw new InvalidInput('description', 'must be 1–255 characters')
  const maxPrice = MAX_PRICE[terms.kind]
  if (
    !Number.isSafeInteger(terms.priceStars) ||
    terms.priceStars < 1 ||
    terms.priceStars > maxPrice
  )
    throw new InvalidInput('priceStars', `must be a whole number of Stars from 1 to ${maxPrice}`)
  const credits = terms.credits ?? 0
  if (!Number.isSafeInteger(credits) || credits < 0 || credits > 1_000_000_000_000)
    throw new InvalidInput('credits', 'must be a whole number ≥ 0')
  if (!positiveInt(terms.creditsExpireDays) || (terms.creditsExpireDays ?? 0) > 3650)
    throw new InvalidInput('creditsExpireDays', 'must be 1–3650 days or null')
  if (terms.featureKey != null && !FEATURE.test(terms.featureKey))
    throw new InvalidInput('featureKey', 'must be a feature key like "pro" or "ai.tokens"')
  if (!positiveInt(terms.durationDays) || (terms.durationDays ?? 0) > 36_500)
    throw new InvalidInput('durationDays', 'must be 1–36500 days or null (for life)')
  if (terms.kind === 'pack') {
    if (credits < 1) throw new InvalidInput('credits', 'a pack must grant credits')
    if (terms.featureKey != null) throw new InvalidInput('featureKey', 'a pack grants no feature')
    if (terms.durationDays != null) throw new InvalidInput('durationDays', 'a pack has no duration')
  }
  if (terms.kind === 'unlock' && terms.featureKey == null)
    throw new InvalidInput('featureKey', 'an unlock must name the feature it unlocks')
  if (terms.kind === 'subscription') {
    if (terms.featureKey == null && credits < 1)
      throw new InvalidInput('featureKey', 'a subscription must grant a feature, credits or both')
    if (terms.durationDays != null)
      throw new InvalidInput('durationDays', 'a subscription always runs 30 days per period')
    if (terms.periodDays !== undefined && terms.periodDays !== SUBSCRIPTION_DAYS)
      throw new InvalidInput('periodDays', 'Telegram subscriptions run exactly 30 days per period')
  } else if (terms.periodDays !== undefined) {
    throw new InvalidInput('periodDays', 'only a subscription has a period')
  }
  if (terms.kind === 'paid_media') validateMedia(terms.media)
  else if (terms.media != null) throw new InvalidInput('media', 'only paid media carries media')
}

const columns = {
  id: products.id,
  key: products.key,
  kind: products.kind,
  title: products.title,
  description: products.description,
  priceStars: products.priceStars,
  credits: products.credits,
  creditsExpireDays: products.creditsExpireDays,
  featureKey: products.featureKey,
  durationDays: products.durationDays,
  media: products.media,
  sortOrder: products.sortOrder,
  archivedAt: products.archivedAt,
  createdAt: products.createdAt,
  updatedAt: products.updatedAt,
}

type ProductRow = {
  [K in keyof typeof columns]: (typeof columns)[K]['_']['notNull'] extends true
    ? (typeof columns)[K]['_']['data']
    : (typeof columns)[K]['_']['data'] | null
}

/**
 * A product as the API answers it. Written out, not inferred from the Drizzle columns, so the
 * published client's types (`@e-stars/client`) carry no Drizzle types.
 */
export type Product = {
  id: string
  key: string
  kind: ProductKind
  title: string
  description: string
  priceStars: number
  credits: number
  creditsExpireDays: number | null
  featureKey: string | null
  durationDays: number | null
  /** Paid media: what `sendPaidMedia` sends; null for the other kinds. */
  media: PaidMediaItem[] | null
  sortOrder: number
  archivedAt: string | null
  createdAt: string
  updatedAt: string
}

const toProduct = (row: ProductRow): Product => ({
  ...row,
  kind: row.kind as ProductKind,
  archivedAt: row.archivedAt?.toISOString() ?? null,
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
})

export async function createProduct(db: Executor, input: CreateProductInput): Promise<Product> {
  if (!KEY.test(input.key))
    throw new InvalidInput('key', 'must be 1–64 of a-z, 0-9, _ . - starting with a letter or digit')
  validate(input)
  const [row] = await db
    .insert(products)
    .values({
      projectId: input.projectId,
      key: input.key,
      kind: input.kind,
      title: input.title.trim(),
      description: input.description.trim(),
      priceStars: input.priceStars,
      credits: input.credits ?? 0,
      creditsExpireDays: input.creditsExpireDays ?? null,
      featureKey: input.featureKey ?? null,
      durationDays: input.durationDays ?? null,
      media: input.kind === 'paid_media' ? (input.media ?? null) : null,
      sortOrder: input.sortOrder ?? 0,
    })
    .onConflictDoNothing()
    .returning(columns)
  if (!row) throw new ProductKeyTaken(input.key)
  return toProduct(row)
}

/** Changes a product's terms. Open orders keep the terms they were issued with. */
export async function updateProduct(
  db: Executor,
  input: { projectId: string; key: string; patch: ProductPatch; now?: Date },
): Promise<Product> {
  return transact(db, async (tx) => {
    const current = await getProduct(tx, input.projectId, input.key)
    const patch = Object.fromEntries(
      Object.entries(input.patch).filter(([, v]) => v !== undefined),
    ) as ProductPatch
    validate({ ...current, ...patch })
    const { periodDays: _period, ...values } = patch
    const [row] = await tx
      .update(products)
      .set({ ...values, updatedAt: input.now ?? new Date() })
      .where(and(eq(products.projectId, input.projectId), eq(products.key, input.key)))
      .returning(columns)
    return toProduct(row!)
  })
}

/** Takes a product off sale (invoices and pre-checkout refuse it); history keeps it. */
export async function archiveProduct(
  db: Executor,
  input: { projectId: string; key: string; archived?: boolean; now?: Date },
): Promise<Product> {
  const now = input.now ?? new Date()
  const [row] = await db
    .update(products)
    .set({ archivedAt: input.archived === false ? null : now, updatedAt: now })
    .where(and(eq(products.projectId, input.projectId), eq(products.key, input.key)))
    .returning(columns)
  if (!row) throw new NotFound('Product', input.key)
  return toProduct(row)
}

export async function getProduct(db: Executor, projectId: string, key: string): Promise<Product> {
  const [row] = await db
    .select(columns)
    .from(products)
    .where(and(eq(products.projectId, projectId), eq(products.key, key)))
  if (!row) throw new NotFound('Product', key)
  return toProduct(row)
}

/** The catalog in display order; archived products only when asked. */
export async function listProducts(
  db: Executor,
  input: { projectId: string; includeArchived?: boolean | undefined },
): Promise<Product[]> {
  const list = await db
    .select(columns)
    .from(products)
    .where(
      and(
        eq(products.projectId, input.projectId),
        input.includeArchived ? undefined : isNull(products.archivedAt),
      ),
    )
    .orderBy(asc(products.sortOrder), asc(products.priceStars), asc(products.key))
  return list.map(toProduct)
}

/** The demo catalog: three packs, a 30-day and a lifetime `pro` unlock, a monthly `plus`. */
export const DEMO_CATALOG: Array<Omit<CreateProductInput, 'projectId'>> = [
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

/** Adds the demo catalog; products whose key exists are left as they are. */
export async function seedDemoCatalog(db: Executor, projectId: string): Promise<Product[]> {
  for (const product of DEMO_CATALOG) {
    await createProduct(db, { ...product, projectId }).catch((error: unknown) => {
      if (!(error instanceof ProductKeyTaken)) throw error
    })
  }
  return listProducts(db, { projectId })
}
