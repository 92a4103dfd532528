import { billingErrorOf } from '@e-stars/api/client'
import { Composer } from 'telegraf'
import { message } from 'telegraf/filters'
import type { BotContext } from '../context.ts'
import type { Completion } from '../model/types.ts'
import { explainRefusal } from '../refusals.ts'
import { formatCount, plural } from '../wording.ts'

export const MAX_PROMPT_CHARS = 4000
/** Telegram's limit for one message is 4096 characters; the footer needs a little room. */
const MAX_ANSWER_CHARS = 3900

/**
 * Any text that is not a command: an AI answer metered by tokens. The estimate (prompt + the
 * answer's cap) is reserved first, the model runs, and the actual tokens are settled; if the
 * model fails the reservation is released and nothing is charged.
 */
export const askFeature = new Composer<BotContext>()

askFeature.on(message('text'), async (ctx, next) => {
  const prompt = ctx.message.text.trim()
  if (prompt.startsWith('/')) return next()
  if ([...prompt].length > MAX_PROMPT_CHARS)
    return ctx.reply(
      `That is a long one: please keep a question under ${MAX_PROMPT_CHARS} characters.`,
    )
  let modelFailed = false
  try {
    const { result, settlement } = await ctx.billing.meter<Completion>(
      ctx.features.tokens,
      ctx.model.estimate(prompt),
      async () => {
        try {
          const completion = await ctx.model.complete(prompt)
          return {
            result: completion,
            quantity: completion.usage.totalTokens,
            metadata: { tokens: completion.usage.totalTokens, model: completion.model },
          }
        } catch (error) {
          modelFailed = true
          throw error
        }
      },
      { reason: 'AI answer' },
    )
    const tokens = result.usage.totalTokens
    const cost =
      settlement === null
        ? ''
        : settlement.charged === 0
          ? ' · free'
          : ` · ${plural(settlement.charged, 'credit', 'credits')}${settlement.freeQuantity > 0 ? ' (part free)' : ''}`
    const text = [...result.text].slice(0, MAX_ANSWER_CHARS).join('') || '…'
    await ctx.reply(`${text}\n\n— ${formatCount(tokens)} tokens${cost}`)
  } catch (error) {
    if (modelFailed) {
      ctx.logger.warn(
        { updateId: ctx.update.update_id, telegramUserId: ctx.from.id, err: String(error) },
        'the model failed; the reservation was released',
      )
      return ctx.reply(
        'The AI model is not answering right now. Nothing was charged; please try again in a minute.',
      )
    }
    if (billingErrorOf(error) && (await explainRefusal(ctx, error, 'this answer'))) return
    throw error
  }
})
