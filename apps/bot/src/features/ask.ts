import { billingErrorOf, type RouterOutputs } from '@e-stars/api/client'
import { Composer } from 'telegraf'
import { message } from 'telegraf/filters'
import type { BotContext } from '../context.ts'
import { ModelError } from '../model/openai.ts'
import { type ChatModel, type Completion, priceTokens } from '../model/types.ts'
import { explainRefusal } from '../refusals.ts'
import { settleDelivered } from '../settle.ts'
import { keepTyping } from '../typing.ts'
import { fitText, TELEGRAM_LIMITS, WORDS } from '../wording.ts'

export const MAX_PROMPT_CHARS = 4000
/** The smallest answer worth reserving for when the balance cannot pay the model's full cap. */
export const MIN_ANSWER_TOKENS = 32

type Reservation = RouterOutputs['usage']['reserveFeature']

/** Idempotency keys of this update's answer: a redelivered update reserves and settles once. */
const keysOf = (ctx: BotContext) => {
  const base = `tg:${ctx.botInfo?.id ?? 'bot'}:${ctx.update.update_id}:ask`
  return { reserve: `${base}:reserve`, settle: `${base}:settle`, release: `${base}:release` }
}

/**
 * Any text that is not a command: an AI answer metered by tokens. The estimate (prompt + the
 * answer's cap) is reserved first — or, when the balance cannot pay the whole cap, what it can
 * pay, with the model's `max_tokens` lowered to match, so an answer cannot cost more than its
 * hold. The answer is delivered, then settled at the tokens the model reports: a send that fails
 * releases the hold (nothing charged), a settle that fails is retried with the same key.
 */
export const askFeature = new Composer<BotContext>()

askFeature.on(message('text'), async (ctx, next) => {
  const prompt = ctx.message.text.trim()
  if (prompt.startsWith('/')) return next()
  if (prompt === '') return ctx.reply(WORDS.ask.empty)
  if ([...prompt].length > MAX_PROMPT_CHARS) return ctx.reply(WORDS.ask.tooLong(MAX_PROMPT_CHARS))
  const keys = keysOf(ctx)
  let held: { reservation: Reservation; answerCap: number }
  try {
    held = await reserveAnswer(ctx, prompt, keys.reserve)
  } catch (error) {
    if (billingErrorOf(error) && (await explainRefusal(ctx, error, WORDS.refusals.answers))) return
    throw error
  }
  const { reservation, answerCap } = held
  const release = (why: string) =>
    ctx.billing.client.usage.releaseFeature
      .mutate({
        reservationId: reservation.reservationId,
        idempotencyKey: keys.release,
        reason: why,
      })
      .catch((error: unknown) =>
        ctx.logger.warn(
          { ...who(ctx), reservationId: reservation.reservationId, err: String(error) },
          'releasing a reservation failed; it expires by itself',
        ),
      )

  const stopTyping = keepTyping(() => ctx.sendChatAction('typing'))
  let completion: Completion
  try {
    completion = await ctx.model.complete(prompt, { maxTokens: answerCap })
  } catch (error) {
    stopTyping()
    await release('the model failed')
    ctx.logger.warn(
      { ...who(ctx), err: String(error) },
      'the model failed; the reservation was released',
    )
    const wait = error instanceof ModelError ? error.retryAfterSeconds : null
    return ctx.reply(wait !== null ? WORDS.ask.modelBusy(wait) : WORDS.ask.modelDown)
  }
  stopTyping()

  const tokens = completion.usage.totalTokens
  const footer = `\n\n${WORDS.ask.tokens(tokens)}`
  // Room for the cost the settle adds to the footer (" · 1,234 credits (part free); …").
  const body = fitText(completion.text, TELEGRAM_LIMITS.message - [...footer].length - 120) || '…'
  let sent: { message_id: number }
  try {
    sent = await ctx.reply(`${body}${footer}`)
  } catch (error) {
    await release('the answer could not be delivered')
    ctx.logger.warn(
      { ...who(ctx), err: String(error) },
      'sending the answer failed; the reservation was released, nothing charged',
    )
    return
  }

  if (completion.estimated)
    ctx.logger.warn(
      { ...who(ctx), model: completion.model, tokens },
      'the model reported no usage; billed by the local token count (marked estimated)',
    )
  const settlement = await settleDelivered(ctx, {
    reservationId: reservation.reservationId,
    quantity: tokens,
    idempotencyKey: keys.settle,
    reason: completion.estimated ? 'AI answer (estimated)' : 'AI answer',
    metadata: {
      tokens,
      model: completion.model,
      ...(completion.estimated ? { estimated: true } : {}),
    },
    usage: completion.record,
  })
  if (!settlement) return
  if (settlement.overage)
    ctx.logger.warn(
      {
        ...who(ctx),
        shortfall: settlement.shortfall,
        tokens,
        policy: settlement.overage.policy,
        debt: settlement.overage.debt,
        entryId: settlement.overage.entryId,
      },
      'the answer cost more than the balance could pay; the unpaid part was not charged',
    )
  await ctx.telegram
    .editMessageText(
      ctx.chat.id,
      sent.message_id,
      undefined,
      `${body}${footer} · ${WORDS.ask.cost(settlement)}`,
    )
    .catch((error: unknown) =>
      ctx.logger.warn({ ...who(ctx), err: String(error) }, 'adding the cost to the answer failed'),
    )
})

const who = (ctx: BotContext) => ({
  updateId: ctx.update.update_id,
  telegramUserId: ctx.from?.id,
})

/**
 * Reserves the model's estimate; when the balance cannot pay it all, reserves what the free
 * allowance and the balance can pay instead, if that leaves room for a useful answer.
 */
async function reserveAnswer(ctx: BotContext, prompt: string, idempotencyKey: string) {
  const telegramUserId = await ctx.billing.ready()
  const estimate = ctx.model.estimate(prompt)
  const promptPart = estimate - ctx.model.maxTokens
  const reserve = (quantity: number) =>
    ctx.billing.client.usage.reserveFeature.mutate({
      telegramUserId,
      feature: ctx.features.tokens,
      quantity,
      // The `cap` overage policy shrinks an unaffordable estimate down to this, engine-side.
      minQuantity: Math.min(quantity, promptPart + MIN_ANSWER_TOKENS),
      idempotencyKey,
      reason: 'AI answer',
      // The call as expected: e-Stars checks the cost caps and the feature's margin floor on it.
      ...(ctx.model.provider
        ? { usage: expectedUsage(ctx.model, ctx.model.provider, promptPart, quantity) }
        : {}),
    })
  // The margin floor's cap binds too: the answer may not cost more than the floor allows.
  const withinFloor = (reservation: Reservation, cap: number) =>
    reservation.maxOutputTokens === null ? cap : Math.min(cap, reservation.maxOutputTokens)
  try {
    const reservation = await reserve(estimate)
    const answerCap =
      reservation.maxQuantity === null
        ? ctx.model.maxTokens
        : Math.min(ctx.model.maxTokens, reservation.maxQuantity - promptPart)
    return { reservation, answerCap: withinFloor(reservation, answerCap) }
  } catch (error) {
    // `debt` and `absorb` projects reserve all or nothing: shrink to what the balance pays here.
    if (billingErrorOf(error)?.code !== 'INSUFFICIENT_CREDITS') throw error
    const affordable = await affordableTokens(ctx)
    if (affordable - promptPart < MIN_ANSWER_TOKENS) throw error
    const reservation = await reserve(affordable)
    return { reservation, answerCap: withinFloor(reservation, affordable - promptPart) }
  }
}

/**
 * The call as the reserve expects it: the prompt and the answer's cap, priced at the model's own
 * price when it states one (a model the price book does not know, like the offline one).
 */
function expectedUsage(model: ChatModel, provider: string, promptPart: number, quantity: number) {
  const inputTokens = promptPart
  const outputTokens = Math.min(model.maxTokens, quantity - promptPart)
  return {
    provider,
    model: model.name,
    inputTokens,
    outputTokens,
    ...(model.price ? { costMicros: priceTokens(model.price, inputTokens, outputTokens) } : {}),
  }
}

/** Tokens the free allowance left and the balance can pay for now, at the feature's price. */
async function affordableTokens(ctx: BotContext): Promise<number> {
  const [access, features] = await Promise.all([
    ctx.billing.check(ctx.features.tokens, 1),
    ctx.billing.client.features.list.query(),
  ])
  const feature = features.find((f) => f.key === ctx.features.tokens)
  if (!feature || feature.credits <= 0) return 0
  const free = access.freeAllowance?.remaining ?? 0
  return free + Math.floor((access.available * feature.perUnits) / feature.credits)
}
