import type { Db } from '@e-stars/db'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { type BotApi, createBotApi, parsePaymentUpdate } from '@e-stars/telegram'
import { afterAll, beforeAll } from 'vitest'
import {
  createInvoice,
  createSecrets,
  generateSecretKey,
  precheck,
  type SuccessfulPaymentInput,
  seedDemoCatalog,
} from '../src/index.ts'
import { createProject } from './fixtures.ts'

export const ALICE = 2_000_001
export const BOB = 2_000_002
export const secrets = createSecrets(generateSecretKey())

/** A sandbox Telegram with two users, for the calling test file. */
export function useSandbox() {
  const handle = {} as { sandbox: Sandbox; api: BotApi }
  beforeAll(async () => {
    handle.sandbox = await createSandbox({
      users: [
        { id: ALICE, firstName: 'Alice', username: 'alice' },
        { id: BOB, firstName: 'Bob' },
      ],
    })
    handle.api = createBotApi({
      token: handle.sandbox.bot().token,
      apiRoot: handle.sandbox.apiRoot,
    })
  })
  afterAll(() => handle.sandbox?.close())
  return handle
}

export interface DeliveredPayment {
  payment: SuccessfulPaymentInput
  from: { id: number; first_name: string; username?: string | undefined }
}

/**
 * A minimal bot on long polling: answers pre-checkout with `precheck` and collects payment and
 * refund messages, so a test decides how (and how often) to deliver them to the engine.
 */
export function startTestBot(
  api: BotApi,
  db: Db,
  projectId: string,
  hooks: { beforeAnswer?: () => void; approveAll?: () => boolean } = {},
) {
  const successful: DeliveredPayment[] = []
  const refunded: Array<{ refund: DeliveredPayment['payment']; from: DeliveredPayment['from'] }> =
    []
  let stopped = false
  let offset = 0
  const loop = (async () => {
    while (!stopped) {
      const updates = (await api.call('getUpdates', { offset, timeout: 1 })) as Array<{
        update_id: number
      }>
      for (const update of updates) {
        offset = update.update_id + 1
        const event = parsePaymentUpdate(update)
        if (event?.kind === 'pre_checkout_query') {
          const verdict = hooks.approveAll?.()
            ? ({ ok: true, errorMessage: null } as const)
            : await precheck(db, { projectId, query: event.query, secrets })
          hooks.beforeAnswer?.()
          await api.answerPreCheckoutQuery({
            pre_checkout_query_id: event.query.id,
            ok: verdict.ok,
            ...(verdict.ok ? {} : { error_message: verdict.errorMessage }),
          })
        } else if (event?.kind === 'successful_payment') {
          successful.push({ payment: event.payment, from: event.from })
        } else if (event?.kind === 'refunded_payment') {
          refunded.push({ refund: event.refund, from: event.from })
        }
      }
    }
  })()
  const waitFor = async <T>(list: T[], predicate: (item: T) => boolean, what: string) => {
    for (let i = 0; i < 200; i++) {
      const found = list.find(predicate)
      if (found) return found
      await new Promise((r) => setTimeout(r, 25))
    }
    throw new Error(`timed out waiting for ${what}`)
  }
  return {
    successful,
    refunded,
    payment: (chargeId: string) =>
      waitFor(successful, (p) => p.payment.telegram_payment_charge_id === chargeId, chargeId),
    refund: (chargeId: string) =>
      waitFor(refunded, (p) => p.refund.telegram_payment_charge_id === chargeId, chargeId),
    async stop() {
      stopped = true
      await loop
    },
  }
}

/** A project with the demo catalog. */
export async function shopProject(db: Db, name = 'shop') {
  const projectId = await createProject(db, name)
  await seedDemoCatalog(db, projectId)
  return projectId
}

/** Issues an invoice, sends it through the sandbox and pays it as `userId`. */
export async function buy(
  t: { sandbox: Sandbox; api: BotApi; db: Db },
  projectId: string,
  userId: number,
  productKey: string,
) {
  const invoice = await createInvoice(t.db, {
    projectId,
    telegramUserId: userId,
    productKey,
    secrets,
    createInvoiceLink: (params) => t.api.createInvoiceLink(params),
  })
  if (invoice.invoiceLink) {
    const paid = await t.sandbox.payInvoice(userId, { invoiceLink: invoice.invoiceLink })
    return { invoice, paid }
  }
  // The user has to have written to the bot before it can message them.
  t.sandbox.sendText(userId, '/buy')
  const message = await t.api.sendInvoice(invoice.sendInvoice!)
  const paid = await t.sandbox.payInvoice(userId, { messageId: message.message_id })
  return { invoice, paid }
}
