import { paySupportHandler } from '@e-stars/telegraf'
import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'

const INTRO =
  'Payment support: reply here with what went wrong (which purchase, when) and we answer within ' +
  '24 hours. Credits you bought and did not use can be refunded; ask and we will do it.'

/** /paysupport, which Telegram requires of every bot selling for Stars. */
export const supportFeature = new Composer<BotContext>()

supportFeature.command('paysupport', (ctx, next) =>
  paySupportHandler({ intro: INTRO }, ctx.logger)(ctx, next),
)
