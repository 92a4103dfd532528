import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'
import { WORDS } from '../wording.ts'

export const HELP_TEXT = WORDS.help

export const helpFeature = new Composer<BotContext>()

helpFeature.help((ctx) => ctx.reply(HELP_TEXT))
