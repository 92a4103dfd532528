import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'

/** Last in the chain: whatever no feature took gets a pointer instead of silence. */
export const unhandledFeature = new Composer<BotContext>()

unhandledFeature.on('callback_query', (ctx) =>
  ctx.answerCbQuery('This button is no longer active.'),
)

unhandledFeature.on('message', async (ctx) => {
  // Payment service messages are handled by the e-Stars middleware; nothing to add.
  if ('successful_payment' in ctx.message || 'refunded_payment' in ctx.message) return
  const text = 'text' in ctx.message ? ctx.message.text : ''
  await ctx.reply(
    text.startsWith('/')
      ? 'I do not know that command. /help lists what I can do.'
      : 'I understand text messages and commands. /help lists what I can do.',
  )
})
