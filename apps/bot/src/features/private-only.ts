import { Composer, Markup } from 'telegraf'
import type { BotContext } from '../context.ts'
import { WORDS } from '../wording.ts'

/** Commands (`/start`, `/start@thisbot`, not `/start@otherbot`), mentions and replies to the bot. */
function addressedToBot(ctx: BotContext): boolean {
  const message = ctx.message
  if (!message || !('text' in message)) return false
  const username = ctx.botInfo?.username ?? ''
  const command = /^\/\w+(?:@(\w+))?/.exec(message.text)
  if (command) return !command[1] || command[1].toLowerCase() === username.toLowerCase()
  if (message.reply_to_message?.from?.id === ctx.botInfo?.id) return true
  return (message.entities ?? []).some(
    (e) =>
      e.type === 'mention' &&
      message.text.slice(e.offset + 1, e.offset + e.length).toLowerCase() ===
        username.toLowerCase(),
  )
}

/**
 * The bot meters, shows balances and sends invoices in private chats only. In a group it
 * answers a command or a mention with a polite pointer and a button into a private chat
 * (a t.me deep link); everything else the group passes it is left alone, nothing metered.
 */
export const privateOnlyFeature = new Composer<BotContext>()

privateOnlyFeature.use(async (ctx, next) => {
  const chat = ctx.chat
  if (!chat || chat.type === 'private') return next()
  const link = `https://t.me/${ctx.botInfo?.username ?? ''}?start=from_group`
  if (ctx.callbackQuery) return ctx.answerCbQuery(WORDS.groups.callback, { url: link })
  if (!addressedToBot(ctx)) return
  await ctx.reply(WORDS.groups.privateOnly, {
    ...Markup.inlineKeyboard([Markup.button.url(WORDS.groups.button, link)]),
    ...(ctx.message ? { reply_parameters: { message_id: ctx.message.message_id } } : {}),
  })
})
