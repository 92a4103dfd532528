import type { RouterOutputs } from '@e-stars/client'
import type { User } from '@grammyjs/types'
import { errorFields, type Logger } from './logger.ts'

/** Ready `sendInvoice` parameters from `invoices.create` (Stars: currency XTR, no provider token). */
export type StarsInvoiceParams = NonNullable<RouterOutputs['invoices']['create']['sendInvoice']>

/**
 * The only keyboard the core sends: link buttons (a subscription's invoice link). Spelled out
 * rather than taken from @grammyjs/types, whose button union would come along into every
 * adapter's bundled types, and which Telegraf's older union does not accept.
 */
export interface LinkKeyboard {
  inline_keyboard: { text: string; url: string }[][]
}

/** The parts of a sent message the core reads. */
export interface SentMessage {
  message_id: number
  date: number
}

/**
 * One update as a bot framework hands it over, and the few Bot API calls the core makes about
 * it. This is all an adapter writes (from a Telegraf or a grammY context); the rest is the core.
 */
export interface BotChannel {
  /** The raw update: the core finds the payments in it (and checks their shape) itself. */
  readonly update: { readonly update_id: number }
  /** The bot's own id, when the framework knows it: it scopes the update-derived keys. */
  readonly botId: number | undefined
  /** The sender, as Telegram gave it (a bot included: the core decides whom to bill). */
  readonly from: User | undefined
  readonly chatId: number | undefined
  answerPreCheckoutQuery(ok: boolean, errorMessage?: string): Promise<unknown>
  sendMessage(chatId: number, text: string, markup?: LinkKeyboard): Promise<SentMessage>
  sendInvoice(params: StarsInvoiceParams): Promise<SentMessage>
}

/** Sends `text` to the update's chat; a failure is logged, never thrown (the work is done). */
export async function tell(channel: BotChannel, text: string, logger: Logger): Promise<void> {
  const chatId = channel.chatId ?? channel.from?.id
  try {
    if (chatId === undefined) throw new Error('the update has no chat')
    await channel.sendMessage(chatId, text)
  } catch (error) {
    logger.warn(
      { telegramUserId: channel.from?.id, err: errorFields(error) },
      'could not tell the user',
    )
  }
}
