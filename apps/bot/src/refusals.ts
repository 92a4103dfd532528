import { billingErrorOf } from '@e-stars/api/client'
import { Markup } from 'telegraf'
import { productButtonText } from './catalog.ts'
import type { BotContext } from './context.ts'
import { formatCount, periodWord, plural, whenResets } from './wording.ts'

/** Key of a limit in `ctx.told`: the user heard about this window of this feature. */
export const toldKey = (userId: number, feature: string, resetsAt: unknown) =>
  `${userId}:${feature}:${String(resetsAt)}`

/**
 * Explains an e-Stars refusal to the user in plain words with the next step (a one-tap invoice
 * for the pack that covers it, when and how a limit resets). Returns false for any other error.
 */
export async function explainRefusal(ctx: BotContext, error: unknown, what: string) {
  const facts = billingErrorOf(error)
  if (!facts) return false
  switch (facts.code) {
    case 'INSUFFICIENT_CREDITS': {
      const required = Number(facts.required)
      const available = Number(facts.available)
      const freeBack =
        typeof facts.freeAllowanceResetsAt === 'string'
          ? `\nYour free prompts come back ${whenResets(facts.freeAllowanceResetsAt)}.`
          : ''
      await ctx.reply(
        `Not enough credits for ${what}: it needs up to ${plural(required, 'credit', 'credits')} and you have ${formatCount(available)}.${freeBack}\nTop up with one tap:`,
      )
      const pack = await ctx.catalog.packFor(required - available)
      if (pack) await ctx.billing.sendInvoice(pack.key)
      return true
    }
    case 'QUOTA_EXCEEDED': {
      const feature = String(facts.feature)
      if (ctx.from) ctx.told.add(toldKey(ctx.from.id, feature, facts.resetsAt))
      const upgrade = (await ctx.catalog.products()).find((p) => p.kind === 'subscription')
      await ctx.reply(
        `You have used all ${formatCount(Number(facts.limit))} ${what} allowed ${periodWord(String(facts.period))}. ` +
          `The limit resets ${whenResets((facts.resetsAt as string | null) ?? null)}.` +
          (upgrade ? `\n${upgrade.title} raises it: ${upgrade.description}.` : ''),
        upgrade
          ? Markup.inlineKeyboard([
              Markup.button.callback(productButtonText(upgrade), `buy:${upgrade.key}`),
            ])
          : {},
      )
      return true
    }
    case 'NO_ENTITLEMENT':
      await ctx.reply(`That needs ${String(facts.feature)}. See /plans to unlock it.`)
      return true
    case 'CUSTOMER_BLOCKED':
      await ctx.reply('Your account cannot use paid features right now. Write to /paysupport.')
      return true
    default:
      return false
  }
}
