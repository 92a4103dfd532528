import { defineFeature, listLedger } from '@e-stars/billing'
import { describeAdapterScenarios, errorReply, SCENARIO_COMMANDS } from '@e-stars/bot-core/testing'
import { ALICE, BOB, CAROL, type Stack, startStack } from '@e-stars/server/testing'
import { botApiFromTelegraf, starsInvoice } from '@e-stars/telegram'
import { Telegraf } from 'telegraf'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { type EStarsContext, type EStarsOptions, eStars } from '../src/index.ts'

let stack: Stack
let bot: Telegraf<EStarsContext> | null = null

beforeAll(async () => {
  stack = await startStack({ sandbox: { preCheckoutTimeoutMs: 10_000 } })
  // One credit per unit, no quota: the arithmetic of the meter tests stays visible.
  await defineFeature(stack.server.database.db, {
    projectId: stack.projectId,
    key: 'units',
    name: 'Units',
    kind: 'metered',
    credits: 1,
  })
})
afterAll(() => stack?.close())
afterEach(() => {
  bot?.stop('test end')
  bot = null
})

/** A Telegraf bot with the middleware and the scenarios' commands, polling the sandbox. */
async function startBot(options: EStarsOptions) {
  const b = new Telegraf<EStarsContext>(stack.sandbox.bot().token, {
    telegram: { apiRoot: stack.sandbox.apiRoot },
  })
  b.use(eStars(options))
  for (const [name, run] of Object.entries(SCENARIO_COMMANDS))
    b.command(name, (ctx) =>
      run({ billing: ctx.billing, payload: ctx.payload, reply: (text) => ctx.reply(text) }),
    )
  // An invoice made without e-Stars, for checkouts while e-Stars is unreachable.
  b.command('raw', async (ctx) => {
    await botApiFromTelegraf(ctx.telegram).sendInvoice({
      chat_id: ctx.chat.id,
      ...starsInvoice({ title: 'Raw', description: 'Raw invoice', payload: 'raw-1', amount: 5 }),
    })
  })
  b.catch(async (error, ctx) => {
    if (ctx.chat) await ctx.reply(errorReply(error))
  })
  await new Promise<void>((resolve, reject) => {
    b.launch(() => resolve()).catch(reject)
  })
  bot = b
}

describeAdapterScenarios({
  stack: () => stack,
  users: { ALICE, BOB, CAROL },
  startBot,
  ledgerOf: (userId) =>
    listLedger(stack.server.database.db, {
      projectId: stack.projectId,
      telegramUserId: userId,
      limit: 200,
    }).then((page) => page.entries),
})
