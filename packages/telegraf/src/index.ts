// The framework-neutral behaviour lives in @e-stars/bot-core (bundled in at build time): its
// public names are this package's; the file next to this one is the Telegraf middleware.
export * from '@e-stars/bot-core'
export { type EStarsContext, eStars, paySupportHandler } from './middleware.ts'
