import type { EStarsClient, RouterOutputs } from '@e-stars/api/client'
import { Markup } from 'telegraf'
import { WORDS } from './wording.ts'

export type Product = RouterOutputs['products']['list'][number]

/** The project's products on sale, fetched at most once a minute. */
export class Catalog {
  #cached: { at: number; products: Product[] } | null = null

  constructor(
    private readonly client: EStarsClient,
    private readonly ttlMs = 60_000,
  ) {}

  async products(): Promise<Product[]> {
    if (this.#cached && Date.now() - this.#cached.at < this.ttlMs) return this.#cached.products
    const products = await this.client.products.list.query()
    this.#cached = { at: Date.now(), products }
    return products
  }

  async find(key: string): Promise<Product | undefined> {
    return (await this.products()).find((p) => p.key === key)
  }

  /** The cheapest pack that covers `credits`, else the largest pack; null when none is on sale. */
  async packFor(credits: number): Promise<Product | null> {
    const packs = (await this.products())
      .filter((p) => p.kind === 'pack')
      .sort((a, b) => a.priceStars - b.priceStars)
    return packs.find((p) => p.credits >= credits) ?? packs.at(-1) ?? null
  }
}

/** A product's button: its title, credits and price, in the words of wording.ts. */
export const productButtonText = (p: Product): string => WORDS.buy.button(p)

/** The button that sends `p`'s invoice (buy.ts answers `buy:<key>`). */
export const buyButton = (p: Product) =>
  Markup.button.callback(productButtonText(p), `buy:${p.key}`)

/** One button per row, one row per product. */
export const buyButtons = (products: Product[]) =>
  Markup.inlineKeyboard(products.map((p) => [buyButton(p)]))
