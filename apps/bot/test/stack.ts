import type { Message, Sandbox } from '@e-stars/sandbox'
import { memoryLogger, type Stack } from '@e-stars/server/testing'
import { applyCatalog } from '../src/apply-catalog.ts'
import { createBot } from '../src/bot.ts'
import type { ChatModel } from '../src/model/types.ts'

export {
  ALICE,
  BOB,
  CAROL,
  type LogLine,
  memoryLogger,
  type Stack,
  startStack,
} from '@e-stars/server/testing'

/** The reference bot polling the stack's sandbox, its catalog applied first as `main.ts` does. */
export async function launchBot(stack: Stack, model: ChatModel) {
  const logger = memoryLogger()
  await applyCatalog(stack.client, logger)
  const reference = createBot({
    token: stack.sandbox.bot().token,
    apiRoot: stack.sandbox.apiRoot,
    client: stack.client,
    model,
    logger,
  })
  await new Promise<void>((resolve, reject) => {
    reference.bot.launch(() => resolve()).catch(reject)
  })
  return { reference, logger, stop: () => reference.bot.stop('test end') }
}

/** A simulated user talking to the bot through the sandbox. */
export function userOf(sandbox: Sandbox, userId: number) {
  return {
    /** Sends `text` and waits for the bot's first message after it matching `expect`. */
    async say(text: string, expect?: (m: Message) => boolean, timeoutMs = 5000) {
      const sent = sandbox.sendText(userId, text)
      return sandbox.waitForMessage(userId, expect, timeoutMs, { afterMessageId: sent.message_id })
    },
    /** The next bot message after `afterMessageId` matching `expect`. */
    next(afterMessageId: number, expect?: (m: Message) => boolean, timeoutMs = 5000) {
      return sandbox.waitForMessage(userId, expect, timeoutMs, { afterMessageId })
    },
    /** Bot messages after `afterMessageId`, oldest first. */
    since(afterMessageId: number) {
      return sandbox
        .transcript(userId)
        .filter((m) => m.message_id > afterMessageId && m.from?.is_bot)
    },
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await sleep(20)
  }
}
