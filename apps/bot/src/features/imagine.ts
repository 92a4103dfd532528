import { billingErrorOf } from '@e-stars/api/client'
import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'
import { renderImage } from '../image/render.ts'
import { explainRefusal } from '../refusals.ts'
import { formatCount, periodWord } from '../wording.ts'

/**
 * /imagine <prompt>: one image, priced per picture and capped per day. The picture is reserved,
 * drawn and sent, then settled; if sending fails the reservation is released.
 */
export const imagineFeature = new Composer<BotContext>()

imagineFeature.command('imagine', async (ctx) => {
  const prompt = ctx.payload.trim()
  if (!prompt) return ctx.reply('Tell me what to draw, e.g. /imagine a red fox in the snow')
  try {
    await ctx.billing.meter(
      ctx.features.image,
      1,
      async (reservation) => {
        const image = renderImage(prompt)
        const left = reservation.quota
          ? ` · ${reservation.quota.remaining} of ${reservation.quota.limit} left ${periodWord(reservation.quota.period)}`
          : ''
        await ctx.replyWithPhoto(
          { source: image.png, filename: 'image.png' },
          {
            caption: `“${[...prompt].slice(0, 200).join('')}” — ${formatCount(reservation.credits)} credits${left}`,
          },
        )
        return { result: image, quantity: 1 }
      },
      { reason: 'Image' },
    )
  } catch (error) {
    if (billingErrorOf(error) && (await explainRefusal(ctx, error, 'images'))) return
    throw error
  }
})
