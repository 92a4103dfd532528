import { createSignal, Show } from 'solid-js'
import { api, describeError, errorInfo } from '../lib/api.ts'
import { formatNumber, formatStars, plural } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

interface RefundablePayment {
  chargeId: string
  amountStars: number
  productKey: string | null
}

/**
 * Refund with a confirmation and a reason. Sends refundStarPayment through the project's bot and
 * shows Telegram's answer: what was revoked, or why Telegram refused.
 */
export function RefundButton(props: { payment: RefundablePayment; onDone: () => void }) {
  const session = useSession()
  let dialog!: HTMLDialogElement
  const [pending, setPending] = createSignal(false)
  const [answer, setAnswer] = createSignal<{ ok: boolean; text: string } | null>(null)
  const submit = async (event: SubmitEvent) => {
    event.preventDefault()
    const data = new FormData(event.currentTarget as HTMLFormElement)
    setPending(true)
    setAnswer(null)
    try {
      const outcome = await api.operator.payments.refund.mutate({
        projectId: session.projectId(),
        telegramPaymentChargeId: props.payment.chargeId,
        reason: String(data.get('reason')),
      })
      const parts = [
        `Telegram refunded ${formatStars(props.payment.amountStars)}`,
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
      setAnswer({ ok: true, text: `${parts.join('; ')}.` })
    } catch (e) {
      const info = errorInfo(e)
      setAnswer({
        ok: false,
        text:
          info.billing?.code === 'TELEGRAM_CALL_FAILED'
            ? `Telegram said: ${describeError(e)}`
            : describeError(e),
      })
    } finally {
      setPending(false)
    }
  }
  return (
    <>
      <button
        type="button"
        class="danger small"
        onClick={() => {
          setAnswer(null)
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
          if (answer()?.ok) props.onDone()
        }}
      >
        <form class="stack" onSubmit={submit}>
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
          <Show when={answer()}>
            {(a) => (
              <p class={a().ok ? 'success' : 'form-error'} role={a().ok ? 'status' : 'alert'}>
                {a().text}
              </p>
            )}
          </Show>
          <div class="row end">
            <button type="button" class="secondary" onClick={() => dialog.close()}>
              {answer()?.ok ? 'Close' : 'Cancel'}
            </button>
            <Show when={!answer()?.ok}>
              <button type="submit" class="danger" disabled={pending()}>
                {pending() ? 'Refunding…' : 'Refund'}
              </button>
            </Show>
          </div>
        </form>
      </dialog>
    </>
  )
}
