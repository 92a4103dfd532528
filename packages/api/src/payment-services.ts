import { projectBotToken, type Secrets } from '@e-stars/billing'
import type { Db } from '@e-stars/db'
import { type BotApi, createBotApi } from '@e-stars/telegram'
import { TRPCError } from '@trpc/server'
import { botProcedure } from './trpc.ts'

/** What payment procedures need beyond the database: the server's secrets and Telegram. */
export interface PaymentServices {
  secrets: Secrets
  /** A Bot API client for the project's own bot; throws BotTokenMissing when none is set. */
  botApiFor(projectId: string): Promise<BotApi>
}

/** Builds the project's Bot API client on demand, decrypting its token each time (cheap, never cached). */
export function createPaymentServices(input: {
  db: Db
  secrets: Secrets
  /** Default https://api.telegram.org; the sandbox in tests and the demo. */
  telegramApiRoot?: string | undefined
}): PaymentServices {
  return {
    secrets: input.secrets,
    async botApiFor(projectId) {
      const token = await projectBotToken(input.db, input.secrets, projectId)
      return createBotApi({ token, apiRoot: input.telegramApiRoot, timeoutMs: 8000 })
    },
  }
}

/** A bot procedure that needs payments configured (SECRET_KEY); narrows `ctx.payments`. */
export const paymentProcedure = botProcedure.use(({ ctx, next }) => {
  if (!ctx.payments)
    throw new TRPCError({
      code: 'PRECONDITION_FAILED',
      message: 'Payments are not configured on this server (SECRET_KEY)',
    })
  return next({ ctx: { ...ctx, payments: ctx.payments } })
})

export const actorOf = (ctx: { project: { keyId: string } }) => `api-key:${ctx.project.keyId}`
