import { createProduct, getBalance, listSubscriptions, subscriptionHistory } from '@e-stars/billing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBot } from '../src/bot.ts'
import { createOfflineModel } from '../src/model/offline.ts'
import { ALICE, eventually, memoryLogger, type Stack, startStack } from './stack.ts'

/**
 * The polling reference bot (Telegraf adapter → bot-core) with the Bot API 10.2/10.3 Stars
 * updates named in `allowed_updates`: the sandbox plays Telegram and the user.
 */
let stack: Stack
let reference: ReturnType<typeof createBot>

beforeAll(async () => {
  stack = await startStack()
  reference = createBot({
    token: stack.sandbox.bot().token,
    apiRoot: stack.sandbox.apiRoot,
    client: stack.client,
    model: createOfflineModel({ maxTokens: 50 }),
    logger: memoryLogger(),
  })
  await new Promise<void>((resolve, reject) => {
    reference.bot
      .launch(
        {
          allowedUpdates: [
            'message',
            'callback_query',
            'pre_checkout_query',
            'subscription',
            'purchased_paid_media',
          ] as never,
        },
        () => resolve(),
      )
      .catch(reject)
  })
})
afterAll(async () => {
  reference?.bot.stop('test end')
  await stack?.close()
})

const subscription = async () =>
  (await listSubscriptions(stack.db, { projectId: stack.projectId, telegramUserId: ALICE }))[0]

describe('the polling bot records the new Stars updates', () => {
  it('cancel, re-enable and a failed renewal reach e-Stars through the bot, each once', async () => {
    const invoice = await stack.client.invoices.create.mutate({
      telegramUserId: ALICE,
      productKey: 'plus',
    })
    const paid = await stack.sandbox.payInvoice(ALICE, { invoiceLink: invoice.invoiceLink! })
    if (paid.status !== 'paid') throw new Error(paid.status)
    await eventually(async () => (await subscription()) !== undefined, 10_000)

    stack.sandbox.cancelSubscription(paid.chargeId)
    await eventually(async () => (await subscription())?.renewalState === 'canceled', 10_000)
    expect(await subscription()).toMatchObject({ active: true, renews: false })
    stack.sandbox.reenableSubscription(paid.chargeId)
    await eventually(async () => (await subscription())?.renewalState === 'active', 10_000)
    stack.sandbox.failSubscriptionRenewal(paid.chargeId)
    await eventually(async () => (await subscription())?.renewalState === 'failed', 10_000)
    const history = await subscriptionHistory(stack.db, {
      projectId: stack.projectId,
      subscriptionId: (await subscription())!.id,
    })
    expect(history.map((h) => h.state)).toEqual(['canceled', 'active', 'failed'])
  })

  it('a paid-media purchase is credited once, and reconciliation finds its charge without crediting again', async () => {
    await createProduct(stack.db, {
      projectId: stack.projectId,
      key: 'photos',
      kind: 'paid_media',
      title: 'Photo set',
      description: 'Three photos and 100 credits',
      priceStars: 75,
      credits: 100,
      media: [{ type: 'photo', media: 'https://example.com/sandbox-photo.jpg' }],
    })
    const balance = async () =>
      (await getBalance(stack.db, { projectId: stack.projectId, telegramUserId: ALICE })).available
    const before = await balance()
    stack.sandbox.sendText(ALICE, '/start')
    const offer = await stack.client.payments.sendPaidMedia.mutate({
      telegramUserId: ALICE,
      productKey: 'photos',
    })
    const bought = stack.sandbox.buyPaidMedia(ALICE, offer.messageId!)
    await eventually(async () => (await balance()) === before + 100, 10_000)
    const run = await stack.client.reconcile.run.mutate()
    if (run.status !== 'succeeded') throw new Error(run.status)
    expect(run.findings.filter((f) => f.telegramPaymentChargeId === bought.chargeId)).toEqual([])
    expect(await balance()).toBe(before + 100)
    expect(
      await stack.client.payments.get.query({ telegramPaymentChargeId: bought.chargeId }),
    ).toMatchObject({ status: 'paid', transactionType: 'paid_media_payment', recordedVia: 'api' })
  })
})
