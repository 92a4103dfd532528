import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'

export const HELP_TEXT = [
  'Send any message and I answer it (metered by tokens; some are free every day).',
  '',
  '/imagine <what> — draw a picture',
  '/buy — top up credits with Telegram Stars',
  '/plans — Pro and the monthly plan',
  '/balance — credits, limits and what you have unlocked',
  '/usage — your latest activity',
  '/paysupport — help with a payment or a refund',
].join('\n')

export const helpFeature = new Composer<BotContext>()

helpFeature.help((ctx) => ctx.reply(HELP_TEXT))
