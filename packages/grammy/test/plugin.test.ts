import { defineFeature, listLedger } from '@e-stars/billing'
import { describeAdapterScenarios, errorReply, SCENARIO_COMMANDS } from '@e-stars/bot-core/testing'
import { ALICE, BOB, CAROL, type Stack, startStack } from '@e-stars/server/testing'
import { Bot } from 'grammy'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { type EStarsContext, type EStarsOptions, eStars } from '../src/index.ts'

let stack: Stack
let bot: Bot<EStarsContext> | null = null

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
afterEach(async () => {
  await bot?.stop()
  bot = null
})

/** A real grammY bot with the plugin and the scenarios' commands, polling the sandbox. */
async function startBot(options: EStarsOptions) {
  const b = new Bot<EStarsContext>(stack.sandbox.bot().token, {
    client: { apiRoot: stack.sandbox.apiRoot },
  })
  b.use(eStars(options))
  for (const [name, run] of Object.entries(SCENARIO_COMMANDS))
    b.command(name, (ctx) =>
      run({ billing: ctx.billing, payload: ctx.match, reply: (text) => ctx.reply(text) }),
    )
  // An invoice made without e-Stars (grammY sends Stars invoices itself), for checkouts while
  // e-Stars is unreachable.
  b.command('raw', async (ctx) => {
    await ctx.replyWithInvoice('Raw', 'Raw invoice', 'raw-1', 'XTR', [{ label: 'Raw', amount: 5 }])
  })
  b.catch(async ({ error, ctx }) => {
    if (ctx.chat) await ctx.reply(errorReply(error))
  })
  await new Promise<void>((resolve, reject) => {
    b.start({ onStart: () => resolve() }).catch(reject)
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
