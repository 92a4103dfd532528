import { billingErrorOf } from '@e-stars/api/client'
import { Composer } from 'telegraf'
import type { BotContext } from '../context.ts'
import { renderImage } from '../image/render.ts'
import { explainRefusal } from '../refusals.ts'
import { settleDelivered } from '../settle.ts'
import { WORDS } from '../wording.ts'

/**
 * /imagine <prompt>: one image, priced per picture and capped per day. The picture is reserved,
 * drawn and sent, then settled; if sending fails the reservation is released, and a settle that
 * fails after the picture was sent is retried with the key `meter` used.
 */
export const imagineFeature = new Composer<BotContext>()

imagineFeature.command('imagine', async (ctx) => {
  const prompt = ctx.payload.trim()
  if (!prompt) return ctx.reply(WORDS.imagine.what)
  const key = `tg:${ctx.botInfo?.id ?? 'bot'}:${ctx.update.update_id}:imagine`
  try {
    const outcome = await ctx.billing.meter(
      ctx.features.image,
      1,
      async (reservation) => {
        const image = renderImage(prompt)
        await ctx.replyWithPhoto(
          { source: image.png, filename: 'image.png' },
          {
            caption: WORDS.imagine.caption(prompt, reservation.credits, reservation.quota),
          },
        )
        return { result: image, quantity: 1 }
      },
      { reason: 'Image', idempotencyKey: key },
    )
    if (outcome.settlement === null)
      await settleDelivered(ctx, {
        reservationId: outcome.reservation.reservationId,
        quantity: 1,
        idempotencyKey: `${key}:settle`,
        reason: 'Image',
      })
  } catch (error) {
    if (billingErrorOf(error) && (await explainRefusal(ctx, error, WORDS.refusals.images))) return
    throw error
  }
})
