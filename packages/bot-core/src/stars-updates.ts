import type { EStarsClient, RouterOutputs } from '@e-stars/client'
import type { User } from '@grammyjs/types'
import { errorFields, type Logger } from './logger.ts'
import type { PaymentRecording } from './payments.ts'
import { isTransient, type RetryPolicy, withRetries } from './transient.ts'

export type RecordedSubscriptionUpdate = RouterOutputs['payments']['recordSubscriptionUpdate']
export type RecordedPaidMediaPurchase = RouterOutputs['payments']['recordPaidMediaPurchase']

/** Bot API 10.2 `BotSubscriptionUpdated` (not in @grammyjs/types yet). */
export interface BotSubscriptionUpdated {
  user: User
  invoice_payload: string
  state: string
}

/** `Update.purchased_paid_media`. */
export interface PaidMediaPurchased {
  from: User
  paid_media_payload: string
}

/** The Stars updates after Bot API 10.1, as the core dispatches them. */
export type StarsUpdateEvent =
  | { kind: 'subscription'; updateId: number; subscription: BotSubscriptionUpdated }
  | { kind: 'purchased_paid_media'; updateId: number; purchase: PaidMediaPurchased }

/**
 * Records a subscription state or a paid-media purchase with the payment path's retries. The
 * server is idempotent per update (a state already applied, a post already paid), so a retry or a
 * redelivery changes nothing; if it still fails, the update is logged with everything needed
 * (`alert`) and reconciliation finds the charge — never thrown, never dropped silently.
 */
export async function recordStarsUpdate(
  client: EStarsClient,
  event: StarsUpdateEvent,
  options: { retry: RetryPolicy; logger: Logger },
): Promise<PaymentRecording<RecordedSubscriptionUpdate | RecordedPaidMediaPurchase>> {
  const facts =
    event.kind === 'subscription'
      ? {
          updateId: event.updateId,
          telegramUserId: event.subscription.user.id,
          state: event.subscription.state,
        }
      : { updateId: event.updateId, telegramUserId: event.purchase.from.id }
  const call = (): Promise<RecordedSubscriptionUpdate | RecordedPaidMediaPurchase> =>
    event.kind === 'subscription'
      ? client.payments.recordSubscriptionUpdate.mutate({
          updateId: event.updateId,
          subscription: event.subscription,
        })
      : client.payments.recordPaidMediaPurchase.mutate({
          updateId: event.updateId,
          purchase: event.purchase,
        })
  const alert =
    event.kind === 'subscription' ? 'SUBSCRIPTION_STATE_NOT_RECORDED' : 'PAID_MEDIA_NOT_RECORDED'
  try {
    const outcome = await withRetries(options.retry, call, (error, attempt, delayMs) =>
      options.logger.warn(
        { ...facts, attempt, delayMs, err: errorFields(error) },
        `recording a ${event.kind} update failed; retrying`,
      ),
    )
    options.logger.info({ ...facts, flag: outcome.flag }, `${event.kind} update recorded`)
    return { recorded: true, outcome }
  } catch (error) {
    options.logger.error(
      { ...facts, update: event, err: errorFields(error), alert },
      `${alert.replaceAll('_', ' ')}: e-Stars refused or could not be reached`,
    )
    return { recorded: false, error, transient: isTransient(error) }
  }
}
