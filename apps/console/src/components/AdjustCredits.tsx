import { createSignal } from 'solid-js'
import { api, newKey } from '../lib/api.ts'
import { formatNumber, numberInWords, plural } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'
import { confirmDialog } from './ConfirmDialog.tsx'
import { Outcome } from './States.tsx'

/**
 * Above this many credits a grant or a take-away asks again and says the amount in words. A
 * fixed, documented figure: projects have no setting for it (settings are columns, so a new one
 * needs a migration), and 10,000 is past any pack the demo sells.
 */
export const LARGE_ADJUSTMENT = 10_000

/** Grant (or take away) credits with a reason; the operator and the reason land in the ledger and the audit log. */
export function AdjustCredits(props: { telegramUserId: number; onDone: () => void }) {
  const session = useSession()
  const [pending, setPending] = createSignal(false)
  const [error, setError] = createSignal<unknown>(null)
  const [done, setDone] = createSignal<string | null>(null)
  const submit = async (event: SubmitEvent) => {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const data = new FormData(form)
    const amount = Number(data.get('amount'))
    const direction = data.get('direction') === 'take' ? -1 : 1
    const expires = String(data.get('expires') ?? '')
    if (amount > LARGE_ADJUSTMENT) {
      const verb = direction > 0 ? 'Grant' : 'Take away'
      const sure = await confirmDialog({
        title: `${verb} ${plural(amount, 'credit')}?`,
        body: `That is ${numberInWords(amount)} credits, more than ${formatNumber(LARGE_ADJUSTMENT)} at once. Check the amount before you go on.`,
        confirmLabel: `${verb} ${formatNumber(amount)}`,
        danger: direction < 0,
      })
      if (!sure) return
    }
    setPending(true)
    setError(null)
    setDone(null)
    try {
      const result = await api.operator.customers.adjust.mutate({
        projectId: session.projectId(),
        telegramUserId: props.telegramUserId,
        amount: direction * amount,
        reason: String(data.get('reason')),
        expiresAt: expires ? new Date(`${expires}T23:59:59`).toISOString() : null,
        idempotencyKey: newKey(),
      })
      setDone(
        `${direction > 0 ? 'Granted' : 'Took'} ${plural(amount, 'credit')}. Balance: ${formatNumber(result.available)}.`,
      )
      form.reset()
      props.onDone()
    } catch (e) {
      setError(e)
    } finally {
      setPending(false)
    }
  }
  return (
    <form class="stack" onSubmit={submit} aria-label="Grant or adjust credits">
      <div class="row">
        <label>
          Action
          <select name="direction">
            <option value="grant">Grant</option>
            <option value="take">Take away</option>
          </select>
        </label>
        <label>
          Credits
          <input name="amount" type="number" min="1" step="1" required inputmode="numeric" />
        </label>
      </div>
      <label>
        Reason
        <input
          name="reason"
          type="text"
          required
          maxLength={500}
          placeholder="Shown in the timeline"
        />
      </label>
      <label>
        Expires (optional, grants only)
        <input name="expires" type="date" />
      </label>
      <button type="submit" disabled={pending()}>
        {pending() ? 'Saving…' : 'Apply'}
      </button>
      <Outcome pending={pending()} error={error()} success={done()} />
    </form>
  )
}
