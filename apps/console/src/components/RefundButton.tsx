import { action, json, useSubmission } from '@solidjs/router'
import { Show } from 'solid-js'
import { api, describeError, errorInfo } from '../lib/api.ts'
import { formatNumber, formatStars, plural } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

interface RefundablePayment {
  chargeId: string
  amountStars: number
  productKey: string | null
}

/**
 * refundStarPayment through the project's bot; answers what was revoked, in words. Nothing is
 * refetched yet: the dialog shows Telegram's answer first, and the page refreshes when it closes.
 */
const refundPayment = action(async (projectId: string, payment: RefundablePayment, d: FormData) => {
  const outcome = await api.operator.payments.refund.mutate({
    projectId,
    telegramPaymentChargeId: payment.chargeId,
    reason: String(d.get('reason')),
  })
  const parts = [
    `Telegram refunded ${formatStars(payment.amountStars)}`,
    `${plural(outcome.voided, 'unspent credit')} revoked`,
  ]
  if (outcome.spent > 0)
    parts.push(
      outcome.policy === 'debt'
        ? `${formatNumber(outcome.repaidFromOtherLots)} taken from other lots, ${formatNumber(outcome.debtAdded)} owed as debt`
        : `${formatNumber(outcome.absorbed)} already spent (absorbed)`,
    )
  if (outcome.entitlementsRevoked > 0)
    parts.push(`${plural(outcome.entitlementsRevoked, 'entitlement')} ended`)
  return json(`${parts.join('; ')}.`, { revalidate: 'nothing' })
}, 'payment-refund')

/** Telegram's refusal is said as Telegram's; anything else in the console's words. */
const refusal = (error: unknown) =>
  errorInfo(error).billing?.code === 'TELEGRAM_CALL_FAILED'
    ? `Telegram said: ${describeError(error)}`
    : describeError(error)

/**
 * Refund with a confirmation and a reason. Sends refundStarPayment through the project's bot and
 * shows Telegram's answer: what was revoked, or why Telegram refused.
 */
export function RefundButton(props: { payment: RefundablePayment; onDone: () => void }) {
  const session = useSession()
  let dialog!: HTMLDialogElement
  const submission = useSubmission(
    refundPayment,
    ([, payment]) => payment.chargeId === props.payment.chargeId,
  )
  const done = () => Boolean(submission.result)
  return (
    <>
      <button
        type="button"
        class="danger small"
        onClick={() => {
          submission.clear()
          dialog.showModal()
        }}
      >
        Refund
      </button>
      <dialog
        ref={dialog}
        aria-labelledby={`refund-${props.payment.chargeId}`}
        // The page refreshes once Telegram's answer has been read (the row then shows "refunded").
        onClose={() => {
          if (done()) props.onDone()
        }}
      >
        <form
          class="stack"
          action={refundPayment.with(session.projectId(), props.payment)}
          method="post"
        >
          <h2 id={`refund-${props.payment.chargeId}`}>
            Refund {formatStars(props.payment.amountStars)}?
          </h2>
          <p class="muted">
            Telegram returns the Stars to the customer. The unspent credits of this payment and what
            it unlocked are revoked; spent credits follow the project's refund policy.
          </p>
          <p class="mono small">{props.payment.chargeId}</p>
          <label>
            Reason
            <input name="reason" type="text" required maxLength={500} autofocus />
          </label>
          <Show when={submission.result}>
            {(text) => (
              <p class="success" role="status">
                {text()}
              </p>
            )}
          </Show>
          <Show when={submission.error}>
            {(error) => (
              <p class="form-error" role="alert">
                {refusal(error())}
              </p>
            )}
          </Show>
          <div class="row end">
            <button type="button" class="secondary" onClick={() => dialog.close()}>
              {done() ? 'Close' : 'Cancel'}
            </button>
            <Show when={!done()}>
              <button type="submit" class="danger" disabled={submission.pending}>
                {submission.pending ? 'Refunding…' : 'Refund'}
              </button>
            </Show>
          </div>
        </form>
      </dialog>
    </>
  )
}
