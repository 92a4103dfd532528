import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'
import { WORDS } from '../wording.ts'

/** Last in the chain: whatever no feature took gets a pointer instead of silence. */
export const unhandledFeature = new Composer<BotContext>()

unhandledFeature.on('callback_query', (ctx) => ctx.answerCbQuery(WORDS.unhandled.staleButton))

unhandledFeature.on('message', async (ctx) => {
  // Payment service messages are handled by the e-Stars middleware; nothing to add.
  if ('successful_payment' in ctx.message || 'refunded_payment' in ctx.message) return
  const text = 'text' in ctx.message ? ctx.message.text : ''
  await ctx.reply(text.startsWith('/') ? WORDS.unhandled.unknownCommand : WORDS.unhandled.textOnly)
})
