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

/** One Stars charge message to record: what it is, who paid, and the call that records it. */
interface ChargeRecording<T> {
  what: 'payment' | 'refund'
  /** The log line's `alert` when it cannot be recorded: what operators search for. */
  alert: 'PAYMENT_NOT_RECORDED' | 'REFUND_NOT_RECORDED'
  charge: SuccessfulPayment | RefundedPayment
  from: User
  updateId: number
  call: () => Promise<T>
  /** Facts of the outcome worth a log line. */
  outcomeFacts: (outcome: T) => object
}

/**
 * The one retry-and-never-drop path of both charge messages: transient failures are retried
 * with backoff; if recording still fails the charge is logged at error level with everything
 * reconciliation needs (`alert: PAYMENT_NOT_RECORDED` / `REFUND_NOT_RECORDED`), and never thrown
 * away: Telegram's ledger still has it and the reconciliation job adds it.
 */
async function recordCharge<T>(
  recording: ChargeRecording<T>,
  options: { retry: RetryPolicy; logger: Logger },
): Promise<PaymentRecording<T>> {
  const { what, charge } = recording
  const facts = {
    updateId: recording.updateId,
    telegramUserId: recording.from.id,
    chargeId: charge.telegram_payment_charge_id,
    totalAmount: charge.total_amount,
  }
  try {
    const outcome = await withRetries(options.retry, recording.call, (error, attempt, delayMs) =>
      options.logger.warn(
        { ...facts, attempt, delayMs, err: errorFields(error) },
        `recording a ${what} failed; retrying`,
      ),
    )
    options.logger.info({ ...facts, ...recording.outcomeFacts(outcome) }, `${what} recorded`)
    return { recorded: true, outcome }
  } catch (error) {
    const { alert } = recording
    options.logger.error(
      { ...facts, [what]: charge, err: errorFields(error), alert },
      `${alert.replaceAll('_', ' ')}: e-Stars refused or could not be reached; reconciliation will pick it up from Telegram`,
    )
    return { recorded: false, error, transient: isTransient(error) }
  }
}

/**
 * Records a `successful_payment` (the charge id is the idempotency key on the server, so a
 * retry or a redelivered update credits once), with `recordCharge`'s retries.
 */
export function recordSuccessfulPayment(
  client: EStarsClient,
  input: { payment: SuccessfulPayment; from: User; updateId: number },
  options: { retry: RetryPolicy; logger: Logger },
): Promise<PaymentRecording<RecordedPayment>> {
  return recordCharge(
    {
      what: 'payment',
      alert: 'PAYMENT_NOT_RECORDED',
      charge: input.payment,
      from: input.from,
      updateId: input.updateId,
      call: () =>
        client.payments.record.mutate({ successfulPayment: input.payment, from: input.from }),
      outcomeFacts: (o) => ({ duplicate: o.duplicate, status: o.status, flag: o.flag }),
    },
    options,
  )
}

/** Records a `refunded_payment` and revokes what it bought, once; same retry rules as payments. */
export function recordRefundedPayment(
  client: EStarsClient,
  input: { refund: RefundedPayment; from: User; updateId: number },
  options: { retry: RetryPolicy; logger: Logger },
): Promise<PaymentRecording<RecordedRefund>> {
  return recordCharge(
    {
      what: 'refund',
      alert: 'REFUND_NOT_RECORDED',
      charge: input.refund,
      from: input.from,
      updateId: input.updateId,
      call: () =>
        client.payments.recordRefund.mutate({ refundedPayment: input.refund, from: input.from }),
      outcomeFacts: (o) => ({ alreadyRefunded: o.alreadyRefunded }),
    },
    options,
  )
}
