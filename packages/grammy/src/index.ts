// The framework-neutral behaviour lives in @e-stars/bot-core (bundled in at build time): its
// public names are this package's; the file next to this one is the grammY plugin.
export * from '@e-stars/bot-core'
export { type BillingFlavor, type EStarsContext, eStars, paySupportHandler } from './plugin.ts'
