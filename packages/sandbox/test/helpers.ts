import { deflateSync } from 'node:zlib'
import { Markup, Telegraf } from 'telegraf'
import { message } from 'telegraf/filters'
import type { RefundedPayment, SuccessfulPayment } from '../src/index.ts'

/** A valid 3x2 RGB PNG, the kind of small image the reference bot generates. */
export function tinyPng(width = 3, height = 2): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    return Buffer.concat([len, Buffer.from(type), data, Buffer.alloc(4)])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8
  ihdr[9] = 2
  const raw = Buffer.alloc((width * 3 + 1) * height)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

export interface BotApiReply {
  ok: boolean
  result?: unknown
  error_code?: number
  description?: string
}

/** Calls the sandbox's Bot API over HTTP as a bot would, returning Telegram's JSON answer. */
export async function callApi(
  apiRoot: string,
  token: string,
  method: string,
  params: Record<string, unknown> = {},
): Promise<BotApiReply & { status: number }> {
  const res = await fetch(`${apiRoot}/bot${token}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
  })
  return { status: res.status, ...((await res.json()) as BotApiReply) }
}

export type PreCheckoutPolicy = 'accept' | 'reject' | 'ignore'

export const PACK = {
  title: '100 credits',
  description: 'A pack of 100 credits',
  payload: 'order-1',
  amount: 50,
} as const

/** What the reference shop bot saw, for assertions. */
export interface ShopLog {
  updateIds: number[]
  starts: number
  preCheckoutIds: string[]
  successfulPayments: SuccessfulPayment[]
  refundedPayments: RefundedPayment[]
}

/**
 * A small Telegraf shop: /start offers a button, the button sends a Stars invoice,
 * pre-checkout follows `policy`, and a payment is thanked for.
 */
export function createShopBot(token: string, apiRoot: string) {
  const bot = new Telegraf(token, { telegram: { apiRoot } })
  const log: ShopLog = {
    updateIds: [],
    starts: 0,
    preCheckoutIds: [],
    successfulPayments: [],
    refundedPayments: [],
  }
  const policy: { preCheckout: PreCheckoutPolicy } = { preCheckout: 'accept' }

  bot.use((ctx, next) => {
    log.updateIds.push(ctx.update.update_id)
    return next()
  })
  bot.start((ctx) => {
    log.starts++
    return ctx.reply('<b>Welcome!</b> Pick a pack.', {
      parse_mode: 'HTML',
      ...Markup.inlineKeyboard([Markup.button.callback('Buy 100 credits', 'buy:100')]),
    })
  })
  bot.command('chart', (ctx) =>
    ctx.replyWithPhoto({ source: tinyPng(4, 3) }, { caption: 'Usage chart' }),
  )
  bot.action(/^buy:(\d+)$/, async (ctx) => {
    await ctx.answerCbQuery('Invoice sent')
    await ctx.replyWithInvoice({
      title: PACK.title,
      description: PACK.description,
      payload: PACK.payload,
      provider_token: '',
      currency: 'XTR',
      prices: [{ label: PACK.title, amount: PACK.amount }],
    })
  })
  bot.on('pre_checkout_query', async (ctx) => {
    log.preCheckoutIds.push(ctx.preCheckoutQuery.id)
    if (policy.preCheckout === 'accept') await ctx.answerPreCheckoutQuery(true)
    if (policy.preCheckout === 'reject') await ctx.answerPreCheckoutQuery(false, 'Out of stock')
  })
  bot.on(message('successful_payment'), async (ctx) => {
    log.successfulPayments.push(ctx.message.successful_payment as SuccessfulPayment)
    await ctx.reply('Thanks! Credits added.')
  })
  bot.on('message', (ctx) => {
    // Telegraf 4.16's types stop at Bot API 7.1: refunded_payment is read from the raw update.
    const refunded = (ctx.message as { refunded_payment?: RefundedPayment }).refunded_payment
    if (refunded) log.refundedPayments.push(refunded)
  })
  return { bot, log, policy }
}

export type ShopBot = ReturnType<typeof createShopBot>

/** Starts long polling; resolves once the bot has called getMe. */
export function launchPolling(bot: Telegraf): Promise<void> {
  return new Promise((resolve, reject) => {
    bot.launch(() => resolve()).catch(reject)
  })
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it is true (for state outside the sandbox, e.g. the bot's log). */
export async function eventually(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await sleep(10)
  }
}
