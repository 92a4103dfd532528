import type { EStarsClient, RouterOutputs } from '@e-stars/client'
import type { PreCheckoutQuery, RefundedPayment, SuccessfulPayment, User } from '@grammyjs/types'
import { errorFields, type Logger } from './logger.ts'
import { isTransient, type RetryPolicy, withRetries } from './transient.ts'

export type PrecheckDecision = RouterOutputs['checkout']['precheck']
export type RecordedPayment = RouterOutputs['payments']['record']
export type RecordedRefund = RouterOutputs['payments']['recordRefund']

/** What the user reads when e-Stars cannot decide in time: the checkout closes instead of spinning. */
export const CHECKOUT_UNAVAILABLE_MESSAGE =
  'Payments are briefly unavailable. Nothing was charged — please try again in a minute.'

/**
 * Asks e-Stars whether to accept a pre-checkout query, giving up after `timeoutMs` (Telegram
 * allows 10 s in all, and the answer itself needs a round trip). Any failure or timeout is a
 * refusal with `unavailableMessage`: the user can pay again in a moment, and no Stars moved.
 */
export async function decidePreCheckout(
  client: EStarsClient,
  query: PreCheckoutQuery,
  options: { timeoutMs: number; unavailableMessage: string; logger: Logger },
): Promise<{ ok: true } | { ok: false; errorMessage: string }> {
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort()
      reject(new TimeoutError(options.timeoutMs))
    }, options.timeoutMs)
  })
  try {
    const decision = await Promise.race([
      client.checkout.precheck.mutate(query, { signal: controller.signal }),
      deadline,
    ])
    if (decision.ok) return { ok: true }
    options.logger.info(
      { preCheckoutQueryId: query.id, telegramUserId: query.from.id, reason: decision.reason },
      'pre-checkout refused',
    )
    return { ok: false, errorMessage: decision.errorMessage }
  } catch (error) {
    options.logger.warn(
      { preCheckoutQueryId: query.id, telegramUserId: query.from.id, err: errorFields(error) },
      'pre-checkout: e-Stars did not answer in time; refusing so the checkout does not spin',
    )
    return { ok: false, errorMessage: options.unavailableMessage }
  } finally {
    clearTimeout(timer)
  }
}

class TimeoutError extends Error {
  override name = 'TimeoutError'
  constructor(ms: number) {
    super(`no answer within ${ms} ms`)
  }
}

/** The result of recording a payment message: what e-Stars did, or why it could not (yet). */
export type PaymentRecording<T> =
  | { recorded: true; outcome: T }
  | { recorded: false; error: unknown; transient: boolean }

/**
 * Records a `successful_payment` (the charge id is the idempotency key on the server, so a
 * retry or a redelivered update credits once). Transient failures are retried with backoff; if
 * recording still fails the payment is logged at error level with everything reconciliation
 * needs, and never thrown away: Telegram's ledger still has it and the reconciliation job adds it.
 */
export async function recordSuccessfulPayment(
  client: EStarsClient,
  input: { payment: SuccessfulPayment; from: User; updateId: number },
  options: { retry: RetryPolicy; logger: Logger },
): Promise<PaymentRecording<RecordedPayment>> {
  const facts = {
    updateId: input.updateId,
    telegramUserId: input.from.id,
    chargeId: input.payment.telegram_payment_charge_id,
    totalAmount: input.payment.total_amount,
  }
  try {
    const outcome = await withRetries(
      options.retry,
      () => client.payments.record.mutate({ successfulPayment: input.payment, from: input.from }),
      (error, attempt, delayMs) =>
        options.logger.warn(
          { ...facts, attempt, delayMs, err: errorFields(error) },
          'recording a payment failed; retrying',
        ),
    )
    options.logger.info(
      { ...facts, duplicate: outcome.duplicate, status: outcome.status, flag: outcome.flag },
      'payment recorded',
    )
    return { recorded: true, outcome }
  } catch (error) {
    options.logger.error(
      { ...facts, payment: input.payment, err: errorFields(error), alert: 'PAYMENT_NOT_RECORDED' },
      'PAYMENT NOT RECORDED: e-Stars refused or could not be reached; reconciliation will pick it up from Telegram',
    )
    return { recorded: false, error, transient: isTransient(error) }
  }
}

/** Records a `refunded_payment` and revokes what it bought, once; same retry rules as payments. */
export async function recordRefundedPayment(
  client: EStarsClient,
  input: { refund: RefundedPayment; from: User; updateId: number },
  options: { retry: RetryPolicy; logger: Logger },
): Promise<PaymentRecording<RecordedRefund>> {
  const facts = {
    updateId: input.updateId,
    telegramUserId: input.from.id,
    chargeId: input.refund.telegram_payment_charge_id,
    totalAmount: input.refund.total_amount,
  }
  try {
    const outcome = await withRetries(
      options.retry,
      () =>
        client.payments.recordRefund.mutate({ refundedPayment: input.refund, from: input.from }),
      (error, attempt, delayMs) =>
        options.logger.warn(
          { ...facts, attempt, delayMs, err: errorFields(error) },
          'recording a refund failed; retrying',
        ),
    )
    options.logger.info({ ...facts, alreadyRefunded: outcome.alreadyRefunded }, 'refund recorded')
    return { recorded: true, outcome }
  } catch (error) {
    options.logger.error(
      { ...facts, refund: input.refund, err: errorFields(error), alert: 'REFUND_NOT_RECORDED' },
      'REFUND NOT RECORDED: e-Stars refused or could not be reached; reconciliation will pick it up from Telegram',
    )
    return { recorded: false, error, transient: isTransient(error) }
  }
}
