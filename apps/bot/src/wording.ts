/**
 * Every word the bot says, in one file: fork the bot, change a sentence here, and the features
 * and the tests (which read these) follow. The formatters below are shared with the e-Stars
 * console's way of writing numbers and dates.
 */
import { plural as countOf, formatNumber } from '@e-stars/billing/format'

/**
 * 12000 → "12,000", −5 → "−5": e-Stars' one number format (`@e-stars/billing/format`), the same
 * function the console, the Mini App and the timeline write numbers with.
 */
export const formatCount = formatNumber

/** (1, 'credit', 'credits') → "1 credit", (5000, …) → "5,000 credits". */
export const plural = (n: number, one: string, many: string) => countOf(n, one, many)

/** "in 5 h 12 min", "in 3 min", "in 2 days". */
export function inHowLong(iso: string, now = Date.now()): string {
  const minutes = Math.max(1, Math.ceil((Date.parse(iso) - now) / 60_000))
  if (minutes < 60) return `in ${minutes} min`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `in ${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`
  return `in ${Math.round(hours / 24)} days`
}

/** "at 00:00 UTC (in 5 h 12 min)", or "on 27 Dec" for far-off instants. */
export function whenResets(iso: string | null, now = Date.now()): string {
  if (!iso) return 'soon'
  const at = new Date(iso)
  const far = at.getTime() - now > 36 * 3_600_000
  const when = far
    ? `on ${at.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' })}`
    : `at ${at.toISOString().slice(11, 16)} UTC`
  return `${when} (${inHowLong(iso, now)})`
}

/** "27 Nov 15:02" in UTC: ledger lines and payment dates. */
export function shortDate(iso: string): string {
  const at = new Date(iso)
  return `${at.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' })} ${at.toISOString().slice(11, 16)}`
}

/** "until 27 Dec 2026" or "for life". */
export function until(iso: string | null): string {
  if (iso === null) return 'for life'
  return `until ${new Date(iso).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' })}`
}

export const periodWord = (period: string) =>
  period === 'day' ? 'today' : period === 'week' ? 'this week' : 'this month'

/** Telegram's limits: a message's text, and a photo's caption. */
export const TELEGRAM_LIMITS = { message: 4096, caption: 1024 } as const

/**
 * `text` cut to `limit` characters (code points, as Telegram counts them closely enough): at the
 * last line break or space in the final fifth when there is one, ending in "…".
 */
export function fitText(text: string, limit: number = TELEGRAM_LIMITS.message): string {
  const chars = [...text]
  if (chars.length <= limit) return text
  const head = chars.slice(0, limit - 1).join('')
  const cut = Math.max(head.lastIndexOf('\n'), head.lastIndexOf(' '))
  return `${cut > head.length * 0.8 ? head.slice(0, cut) : head}…`
}

// ---- the words -----------------------------------------------------------------------------

interface Allowance {
  limit: number
  remaining: number
  period: string
  resetsAt: string | null
}

export const WORDS = {
  start: {
    welcome: (name: string) =>
      `Welcome, ${name}! I am an AI assistant that runs on credits, paid with Telegram Stars.`,
    askFree: (free: Allowance) =>
      `• Just send me a message to ask anything. ${formatCount(free.limit)} tokens of answers are free ${free.period === 'day' ? 'every day' : `every ${free.period}`}; ${formatCount(free.remaining)} left${free.remaining < free.limit ? `, back ${whenResets(free.resetsAt)}` : ''}.`,
    askMetered: '• Just send me a message to ask anything; answers are metered by tokens.',
    imagine: (credits: number, perDay: number | null) =>
      `• /imagine <what> draws a picture (${plural(credits, 'credit', 'credits')}${perDay !== null ? `, up to ${formatCount(perDay)} a day` : ''}).`,
    buy: '• /buy tops up credits, /plans shows Pro and the monthly plan.',
    more: '• /balance, /usage and /help any time.',
    balance: (available: number) => `Your balance: ${plural(available, 'credit', 'credits')}.`,
  },
  help: [
    'Send any message and I answer it (metered by tokens; some are free every day).',
    '',
    '/imagine <what> — draw a picture',
    '/buy — top up credits with Telegram Stars',
    '/plans — Pro and the monthly plan',
    '/balance — credits, limits and what you have unlocked',
    '/usage — your latest activity',
    '/paysupport — help with a payment or a refund',
  ].join('\n'),
  buy: {
    menu: 'Choose a credit pack or a plan. You pay with Telegram Stars; credits arrive at once.',
    nothingOnSale: 'Nothing is on sale right now.',
    sending: 'Sending the invoice…',
    unknown: (key: string) => `There is no "${key}" for sale. /buy shows what there is.`,
    /** "Pack S — 500 credits · 50 ⭐", "Pro for life · 500 ⭐", "Plus · 200 ⭐ a month". */
    button: (p: { kind: string; title: string; credits: number; priceStars: number }) => {
      const price = `${formatCount(p.priceStars)} ⭐${p.kind === 'subscription' ? ' a month' : ''}`
      return p.kind === 'pack'
        ? `${p.title} — ${p.credits} credits · ${price}`
        : `${p.title} · ${price}`
    },
  },
  plans: {
    none: 'There are no plans right now; /buy has credit packs.',
    line: (p: { kind: string; title: string; priceStars: number; description: string }) =>
      `• ${p.title} — ${formatCount(p.priceStars)} ⭐${p.kind === 'subscription' ? ' a month, renews by itself, cancel any time' : ''}: ${p.description}.`,
    list: (lines: string[]) => `Plans:\n${lines.join('\n')}\n\nCredit packs are on /buy.`,
  },
  balance: {
    available: (n: number) => `Balance: ${plural(n, 'credit', 'credits')}.`,
    held: (n: number) => `Held for answers in progress: ${plural(n, 'credit', 'credits')}.`,
    debt: (n: number) =>
      `Owed from a refund: ${plural(n, 'credit', 'credits')} (taken from your next top-up).`,
    access: (name: string, untilIso: string | null) => `${name}: ${until(untilIso)}.`,
    free: (free: Allowance) =>
      `Free answers: ${formatCount(free.remaining)} of ${formatCount(free.limit)} tokens left ${periodWord(free.period)}, back ${whenResets(free.resetsAt)}.`,
    images: (quota: Allowance) =>
      `Images: ${formatCount(quota.remaining)} of ${formatCount(quota.limit)} left ${periodWord(quota.period)}, resets ${whenResets(quota.resetsAt)}.`,
    footer: 'Top up: /buy · History: /usage',
  },
  usage: {
    nothing: 'Nothing yet. Send me a question, or /buy credits.',
    title: 'Your latest activity (newest first):',
    /** Who an operator is to an end user. */
    operator: 'support',
  },
  imagine: {
    what: 'Tell me what to draw, e.g. /imagine a red fox in the snow',
    caption: (
      prompt: string,
      credits: number,
      quota: { remaining: number; limit: number; period: string } | null,
    ) =>
      `“${[...prompt].slice(0, 200).join('')}” — ${plural(credits, 'credit', 'credits')}${quota ? ` · ${formatCount(quota.remaining)} of ${formatCount(quota.limit)} left ${periodWord(quota.period)}` : ''}`,
  },
  ask: {
    tooLong: (max: number) =>
      `That is a long one: please keep a question under ${formatCount(max)} characters.`,
    empty: 'Send me a question in words, and I will answer it.',
    modelDown:
      'The AI model is not answering right now. Nothing was charged; please try again in a minute.',
    modelBusy: (seconds: number) =>
      `The AI model is busy right now. Nothing was charged; please try again in ${seconds < 90 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`}.`,
    /** The answer's last line before the settle is known. */
    tokens: (tokens: number) => `— ${formatCount(tokens)} tokens`,
    /**
     * What the answer cost, after the settle: "free", "12 credits", "12 credits (part free)";
     * an overage the balance could not pay is said, not hidden.
     */
    cost: (s: {
      charged: number
      freeQuantity: number
      shortfall: number
      /** The project's `debt` overage policy: the unpaid part is owed, repaid by the next top-up. */
      overage?: { debt: number } | null
    }) => {
      const paid =
        s.charged > 0
          ? `${plural(s.charged, 'credit', 'credits')}${s.freeQuantity > 0 ? ' (part free)' : ''}`
          : s.shortfall > 0
            ? s.freeQuantity > 0
              ? 'part free'
              : 'nothing charged'
            : 'free'
      if (s.overage && s.overage.debt > 0)
        return `${paid}; ${plural(s.overage.debt, 'credit', 'credits')} owed (your next top-up repays it)`
      return s.shortfall > 0
        ? `${paid}; ${plural(s.shortfall, 'credit', 'credits')} unpaid (more than your balance)`
        : paid
    },
  },
  refusals: {
    notEnough: (what: string, required: number, available: number, freeBackIso: string | null) =>
      `Not enough credits for ${what}: it needs up to ${plural(required, 'credit', 'credits')} and you have ${formatCount(available)}.${freeBackIso ? `\nYour free tokens come back ${whenResets(freeBackIso)}.` : ''}`,
    topUp: '\nTop up with one tap:',
    /** The same burst of refusals already got an invoice: point at it instead of a second one. */
    topUpAbove: '\nTop up with the invoice above.',
    quota: (what: string, limit: number, period: string, resetsAt: string | null) =>
      `You have used all ${formatCount(limit)} ${what} allowed ${periodWord(period)}. The limit resets ${whenResets(resetsAt)}.`,
    upgrade: (title: string, description: string) => `\n${title} raises it: ${description}.`,
    /** The upsell when the product's own quota is known: "Plus raises it to 200 a day." */
    raises: (title: string, limit: number, period: string) =>
      `\n${title} raises it to ${formatCount(limit)} a ${period}.`,
    noEntitlement: (feature: string) => `That needs ${feature}. See /plans to unlock it.`,
    blocked: 'Your account cannot use paid features right now. Write to /paysupport.',
    /** The feature's margin floor: even the shortest answer would cost more than it earns. */
    marginFloor:
      'I cannot answer this one: it would cost more to run than the credits it uses. Nothing was charged; please ask a shorter question.',
    /** The project refuses models its price book does not know, and this one is not in it. */
    unpricedModel:
      'AI answers are not set up yet on this bot (its model has no price). Nothing was charged; please try again later.',
    /** A cost cap of the project (the AI's spending limit) is reached for now. */
    costCap: (resetsAt: string | null) =>
      `AI answers are paused for now: this bot has reached its spending limit. Nothing was charged; they come back ${whenResets(resetsAt)}.`,
    answers: 'this answer',
    images: 'images',
  },
  nudges: {
    lowBalance: (available: number) =>
      `Heads up: you have ${plural(available, 'credit', 'credits')} left. Top up with one tap:`,
    freeExhausted: (period: string, resetsAt: string | null) =>
      `That was the last of your free answers ${periodWord(period)}. From now on answers use credits (/balance); the free ones come back ${whenResets(resetsAt)}.`,
    quotaExhausted: (limit: number, what: string, period: string, resetsAt: string | null) =>
      `That was your last of ${formatCount(limit)} ${what} ${periodWord(period)}; more ${whenResets(resetsAt)}. /plans raises the limit.`,
  },
  payments: {
    received: (parts: string[], available: number) =>
      `Payment received, thank you! ${parts.join(', ')}.\nBalance: ${plural(available, 'credit', 'credits')}. Ask away!`,
    credits: (n: number) => `+${plural(n, 'credit', 'credits')}`,
    pro: (endsAt: string | null) => `Pro ${until(endsAt)}`,
    supportIntro:
      'Payment support: reply here with what went wrong (which purchase, when) and we answer within ' +
      '24 hours. Credits you bought and did not use can be refunded; ask and we will do it.',
  },
  groups: {
    privateOnly: 'I answer in private chats only, so your questions and your balance stay yours.',
    button: 'Talk to me in private',
    callback: 'Open a private chat with me: my answers and your balance stay there.',
  },
  unhandled: {
    staleButton: 'This button is no longer active.',
    unknownCommand: 'I do not know that command. /help lists what I can do.',
    textOnly: 'I understand text messages and commands. /help lists what I can do.',
  },
  /** A chat with more messages waiting than the bot queues for it. */
  busy: 'I am still on your earlier messages; send this one again when I have answered them.',
  errors: {
    callback: 'Something went wrong; please try again.',
    apology: 'Sorry, something went wrong on my side. Please try again in a minute.',
  },
} as const
