import type { IncomingMessage, ServerResponse } from 'node:http'
import { z } from 'zod'
import { type ControlAccess, checkControlAccess } from './control-access.ts'
import { SandboxError } from './errors.ts'
import { readBody } from './params.ts'
import { sendJson } from './respond.ts'
import type { Sandbox } from './sandbox.ts'
import type { BotCapabilities } from './types.ts'

const botToken = z.string().min(1).optional()
const userId = z.coerce.number().int().positive()
const chargeId = z.string().min(1)
/** An affiliate-referred payment: who referred it and the commission (per mille). */
const affiliate = z
  .object({ userId, commissionPerMille: z.number().int().min(1).max(999) })
  .transform((a) => ({ affiliateUserId: a.userId, commissionPerMille: a.commissionPerMille }))
  .optional()
const stars = {
  amount: z.number().int().nonnegative(),
  nanostarAmount: z.number().int().min(0).max(999_999_999).optional(),
}

interface Route<S extends z.ZodType> {
  method: 'GET' | 'POST'
  path: string
  /** GET routes read the query string, POST routes the JSON body. */
  input: S
  run: (sandbox: Sandbox, input: z.output<S>) => unknown
}

const route = <S extends z.ZodType>(r: Route<S>): Route<z.ZodType> =>
  r as unknown as Route<z.ZodType>

/**
 * The control API over HTTP, one route per Sandbox method, so the console's proxy, a CLI or a
 * test in another process can drive the sandbox with the run's token. Answers `{ ok: true, result }` or `{ ok: false, error: { code, message } }`.
 */
export const controlRoutes: Route<z.ZodType>[] = [
  route({
    method: 'GET',
    path: '/sandbox/state',
    /** Bot tokens only when asked for (`?botTokens=true`): a token is the bot's Bot API access. */
    input: z.object({ botTokens: z.enum(['true', 'false']).optional() }),
    run: (s, { botTokens }) => ({
      apiRoot: s.apiRoot,
      now: s.clock.now(),
      bots: botTokens === 'true' ? s.bots() : s.bots().map(({ user }) => ({ user })),
      users: s.users(),
    }),
  }),
  route({
    method: 'POST',
    path: '/sandbox/bots',
    input: z.object({
      token: z.string().optional(),
      username: z.string().optional(),
      firstName: z.string().optional(),
      capabilities: z
        .object({
          can_join_groups: z.boolean(),
          can_read_all_group_messages: z.boolean(),
          supports_inline_queries: z.boolean(),
          supports_guest_queries: z.boolean(),
          can_connect_to_business: z.boolean(),
          has_main_web_app: z.boolean(),
          has_topics_enabled: z.boolean(),
          allows_users_to_create_topics: z.boolean(),
          can_manage_bots: z.boolean(),
          supports_join_request_queries: z.boolean(),
        } satisfies Record<keyof BotCapabilities, z.ZodBoolean>)
        .partial()
        .strict()
        .optional(),
    }),
    run: (s, input) => s.createBot(input),
  }),
  route({
    method: 'POST',
    path: '/sandbox/users',
    input: z.object({
      id: z.number().int().positive().optional(),
      firstName: z.string().optional(),
      lastName: z.string().optional(),
      username: z.string().optional(),
      languageCode: z.string().optional(),
    }),
    run: (s, input) => s.createUser(input),
  }),
  route({
    method: 'POST',
    path: '/sandbox/messages',
    input: z.object({ userId, text: z.string().min(1), botToken }),
    run: (s, { userId, text, botToken }) => s.sendText(userId, text, { botToken }),
  }),
  route({
    method: 'POST',
    path: '/sandbox/button-presses',
    input: z
      .object({
        userId,
        messageId: z.number().int(),
        data: z.string().optional(),
        text: z.string().optional(),
        botToken,
      })
      .refine((v) => (v.data === undefined) !== (v.text === undefined), 'give data or text'),
    run: (s, { userId, messageId, data, text, botToken }) =>
      s.pressButton(userId, messageId, data !== undefined ? { data } : { text: text ?? '' }, {
        botToken,
      }),
  }),
  route({
    method: 'POST',
    path: '/sandbox/callback-answers/wait',
    input: z.object({
      callbackQueryId: z.string().min(1),
      timeoutMs: z.number().int().positive().max(60_000).optional(),
      botToken,
    }),
    run: (s, { callbackQueryId, timeoutMs, botToken }) =>
      s.waitForCallbackAnswer(callbackQueryId, timeoutMs, { botToken }),
  }),
  route({
    method: 'GET',
    path: '/sandbox/transcript',
    input: z.object({ userId, botToken }),
    run: (s, { userId, botToken }) => s.transcript(userId, { botToken }),
  }),
  route({
    method: 'POST',
    path: '/sandbox/messages/wait',
    input: z.object({
      userId,
      textIncludes: z.string().optional(),
      /** Only invoice messages. */
      invoice: z.boolean().optional(),
      afterMessageId: z.number().int().optional(),
      timeoutMs: z.number().int().positive().max(60_000).optional(),
      botToken,
    }),
    run: (s, { userId, textIncludes, invoice, afterMessageId, timeoutMs, botToken }) =>
      s.waitForMessage(
        userId,
        (m) =>
          (textIncludes === undefined || (m.text ?? m.caption ?? '').includes(textIncludes)) &&
          (invoice === undefined || (m.invoice !== undefined) === invoice),
        timeoutMs,
        { botToken, afterMessageId },
      ),
  }),
  route({
    method: 'POST',
    path: '/sandbox/payments',
    input: z.union([
      z.object({ userId, messageId: z.number().int(), botToken, affiliate }),
      z.object({ userId, invoiceLink: z.string().min(1), affiliate }),
    ]),
    run: (s, input) =>
      'invoiceLink' in input
        ? s.payInvoice(
            input.userId,
            { invoiceLink: input.invoiceLink },
            { affiliate: input.affiliate },
          )
        : s.payInvoice(
            input.userId,
            { messageId: input.messageId, botToken: input.botToken },
            { affiliate: input.affiliate },
          ),
  }),
  route({
    method: 'POST',
    path: '/sandbox/paid-media-purchases',
    input: z.object({ userId, messageId: z.number().int(), botToken, affiliate }),
    run: (s, { userId, messageId, botToken, affiliate }) =>
      s.buyPaidMedia(userId, messageId, { botToken, affiliate }),
  }),
  route({
    method: 'POST',
    path: '/sandbox/withdrawals',
    input: z.object({ amount: z.number().int().positive(), botToken }),
    run: (s, { amount, botToken }) => s.withdrawStars(amount, { botToken }),
  }),
  route({
    method: 'POST',
    path: '/sandbox/withdrawals/settle',
    input: z.object({
      transactionId: z.string().min(1),
      state: z.enum(['succeeded', 'failed']),
      botToken,
    }),
    run: (s, { transactionId, state, botToken }) =>
      s.settleWithdrawal(transactionId, state, { botToken }),
  }),
  route({
    method: 'POST',
    path: '/sandbox/ad-spend',
    input: z.object({ ...stars, botToken }),
    run: (s, { botToken, ...amount }) => s.spendOnAds(amount, { botToken }),
  }),
  route({
    method: 'POST',
    path: '/sandbox/api-spend',
    input: z.object({ requestCount: z.number().int().positive(), ...stars, botToken }),
    run: (s, { requestCount, botToken, ...amount }) =>
      s.spendOnApi(requestCount, amount, { botToken }),
  }),
  route({
    method: 'POST',
    path: '/sandbox/gift-spend',
    input: z.object({
      userId,
      kind: z.enum(['gift', 'premium']),
      amount: z.number().int().positive(),
      premiumMonths: z.union([z.literal(3), z.literal(6), z.literal(12)]).optional(),
      botToken,
    }),
    run: (s, { userId, botToken, ...input }) => s.spendOnGift(userId, input, { botToken }),
  }),
  route({
    method: 'POST',
    path: '/sandbox/affiliate-earnings',
    input: z.object({
      ...stars,
      commissionPerMille: z.number().int().min(1).max(999),
      sponsorUserId: userId.optional(),
      botToken,
    }),
    run: (s, { botToken, ...input }) => s.earnAffiliateCommission(input, { botToken }),
  }),
  route({
    method: 'POST',
    path: '/sandbox/renewals',
    input: z.object({ chargeId }),
    run: (s, { chargeId }) => s.renewSubscription(chargeId),
  }),
  route({
    method: 'GET',
    path: '/sandbox/subscription',
    input: z.object({ chargeId }),
    run: (s, { chargeId }) => s.subscription(chargeId),
  }),
  route({
    method: 'POST',
    path: '/sandbox/subscriptions/cancel',
    input: z.object({ chargeId }),
    run: (s, { chargeId }) => s.cancelSubscription(chargeId),
  }),
  route({
    method: 'POST',
    path: '/sandbox/subscriptions/reenable',
    input: z.object({ chargeId }),
    run: (s, { chargeId }) => s.reenableSubscription(chargeId),
  }),
  route({
    method: 'POST',
    path: '/sandbox/subscriptions/fail-renewal',
    input: z.object({ chargeId }),
    run: (s, { chargeId }) => s.failSubscriptionRenewal(chargeId),
  }),
  route({
    method: 'POST',
    path: '/sandbox/refunds',
    input: z.object({ chargeId }),
    run: (s, { chargeId }) => s.refundPayment(chargeId),
  }),
  route({
    method: 'POST',
    path: '/sandbox/earlier-charges',
    input: z.object({
      user: z.object({
        id: z.number().int().positive(),
        firstName: z.string().optional(),
        lastName: z.string().optional(),
        username: z.string().optional(),
      }),
      title: z.string().min(1),
      payload: z.string().min(1).max(128),
      amount: z.number().int().positive(),
      date: z.number().int().positive(),
      botToken,
    }),
    run: (s, { botToken, ...charge }) => s.recordEarlierCharge(charge, { botToken }),
  }),
  route({
    method: 'POST',
    path: '/sandbox/chargebacks',
    input: z.object({ chargeId }),
    run: (s, { chargeId }) => {
      s.chargeback(chargeId)
      return true
    },
  }),
  route({
    method: 'POST',
    path: '/sandbox/faults',
    input: z.object({
      kind: z.enum(['drop', 'duplicate']),
      count: z.number().int().positive().optional(),
      botToken,
    }),
    run: (s, { kind, count, botToken }) => {
      if (kind === 'drop') s.dropNextDelivery(count, { botToken })
      else s.duplicateNextDelivery(count, { botToken })
      return true
    },
  }),
  route({
    method: 'POST',
    path: '/sandbox/clock/advance',
    input: z.object({ ms: z.number().int().nonnegative() }),
    run: (s, { ms }) => ({ now: s.advanceClock(ms) }),
  }),
  route({
    method: 'GET',
    path: '/sandbox/transactions',
    input: z.object({ botToken }),
    run: (s, { botToken }) => s.starTransactions({ botToken }),
  }),
  route({
    method: 'GET',
    path: '/sandbox/balance',
    input: z.object({ botToken }),
    run: (s, { botToken }) => s.starAmount({ botToken }),
  }),
  route({
    method: 'GET',
    path: '/sandbox/webhook-attempts',
    input: z.object({ botToken }),
    run: (s, { botToken }) => s.webhookAttempts({ botToken }),
  }),
]

export async function handleControlRequest(
  sandbox: Sandbox,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  access: ControlAccess,
): Promise<void> {
  try {
    checkControlAccess(req, access)
    const fileId = /^\/sandbox\/files\/([^/]+)$/.exec(url.pathname)?.[1]
    if (req.method === 'GET' && fileId) {
      const file = sandbox.file(decodeURIComponent(fileId))
      if (!file) throw new SandboxError('NOT_FOUND', 'no such file')
      res.writeHead(200, { 'content-type': file.contentType ?? 'application/octet-stream' })
      res.end(file.data)
      return
    }
    const match = controlRoutes.find((r) => r.path === url.pathname && r.method === req.method)
    if (!match)
      throw new SandboxError('NOT_FOUND', `no control route ${req.method} ${url.pathname}`)
    let raw: unknown = Object.fromEntries(url.searchParams)
    if (match.method === 'POST') {
      const body = await readBody(req)
      try {
        raw = body.length === 0 ? {} : JSON.parse(body.toString('utf8'))
      } catch {
        throw new SandboxError('BAD_INPUT', 'body must be JSON')
      }
    }
    const parsed = match.input.safeParse(raw)
    if (!parsed.success) throw new SandboxError('BAD_INPUT', z.prettifyError(parsed.error))
    sendJson(res, 200, { ok: true, result: (await match.run(sandbox, parsed.data)) ?? null })
  } catch (error) {
    if (error instanceof SandboxError) {
      sendJson(res, error.httpStatus, {
        ok: false,
        error: { code: error.code, message: error.message },
      })
    } else {
      console.error('[sandbox] control request failed', error)
      sendJson(res, 500, { ok: false, error: { code: 'INTERNAL', message: 'internal error' } })
    }
  }
}
