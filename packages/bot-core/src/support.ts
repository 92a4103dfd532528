import type { EStarsClient, RouterOutputs } from '@e-stars/client'
import { type BotChannel, tell } from './channel.ts'
import { errorFields, type Logger } from './logger.ts'

type PaymentSummary = RouterOutputs['payments']['list']['payments'][number]

export interface PaySupportOptions {
  /** The opening paragraph: how to reach you and what you promise. */
  intro?: string
  /** How many of the user's recent payments to list (with charge ids), 0 for none. Default 5. */
  recentPayments?: number
}

export const DEFAULT_PAY_SUPPORT_INTRO =
  'Payment support: reply here with what went wrong (which purchase, when) and we will answer ' +
  'within 24 hours. If something you paid for did not arrive or does not work, we refund it.'

/** One payment as the user knows it: the product's title ("Pack S"), never its key. */
function line(p: PaymentSummary, titles: ReadonlyMap<string, string>) {
  const status = p.status === 'refunded' ? ' — refunded' : p.flag ? ' — being checked' : ''
  const what = p.productKey ? (titles.get(p.productKey) ?? p.productKey) : 'payment'
  return `• ${p.paidAt.slice(0, 10)}: ${p.amountStars} ⭐ ${what}${status}\n  id ${p.telegramPaymentChargeId}`
}

/**
 * The `/paysupport` answer Telegram requires of every bot selling for Stars: how to get help,
 * and the user's recent payments with their charge ids (what support and refunds need). If
 * e-Stars cannot be reached the help text is still the answer.
 */
export async function paySupportText(
  client: EStarsClient,
  telegramUserId: number | undefined,
  options: PaySupportOptions,
  logger: Logger,
): Promise<string> {
  const intro = options.intro ?? DEFAULT_PAY_SUPPORT_INTRO
  const limit = options.recentPayments ?? 5
  if (limit <= 0 || telegramUserId === undefined) return intro
  try {
    const [{ payments }, products] = await Promise.all([
      client.payments.list.query({ telegramUserId, limit }),
      // Titles only: a product taken off sale since is named by its key.
      client.products.list.query().catch(() => []),
    ])
    const titles = new Map(products.map((p) => [p.key, p.title]))
    return payments.length
      ? `${intro}\n\nYour recent payments:\n${payments.map((p) => line(p, titles)).join('\n')}`
      : `${intro}\n\nYou have not paid for anything yet.`
  } catch (error) {
    logger.warn({ telegramUserId, err: errorFields(error) }, 'paysupport: no payment list')
    return intro
  }
}

/** Answers `/paysupport` in the update's chat. */
export async function answerPaySupport(
  channel: BotChannel,
  client: EStarsClient,
  options: PaySupportOptions,
  logger: Logger,
): Promise<void> {
  await tell(channel, await paySupportText(client, channel.from?.id, options, logger), logger)
}
