import { paySupportHandler } from '@e-stars/telegraf'
import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'
import { WORDS } from '../wording.ts'

/** /paysupport, which Telegram requires of every bot selling for Stars. */
export const supportFeature = new Composer<BotContext>()

supportFeature.command('paysupport', (ctx, next) =>
  paySupportHandler({ intro: WORDS.payments.supportIntro }, ctx.logger)(ctx, next),
)
