import type { EStarsContext, Logger } from '@e-stars/telegraf'
import type { ChatModel } from './model/types.ts'
import type { Catalog } from './on-sale.ts'

/** The e-Stars feature keys the bot meters; the demo catalogue's by default. */
export interface FeatureKeys {
  /** Metered in tokens: every AI answer. */
  tokens: string
  /** Metered per picture: /imagine. */
  image: string
  /** Gated: what the unlocks and the subscription give. */
  pro: string
}

export const DEFAULT_FEATURES: FeatureKeys = { tokens: 'ai.tokens', image: 'image', pro: 'pro' }

/** What every feature of the bot can reach from `ctx`, set once per update by `createBot`. */
export interface BotContext extends EStarsContext {
  model: ChatModel
  catalog: Catalog
  features: FeatureKeys
  logger: Logger
  /** Refusals already explained to a user, so an event about the same limit is not sent again. */
  told: Set<string>
  /** When each user last got an invoice from a refusal: one invoice per burst of refusals. */
  invoicesSent: Map<number, number>
}
