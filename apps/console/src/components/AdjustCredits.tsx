import { action, useSubmission } from '@solidjs/router'
import { createEffect } from 'solid-js'
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

/** A grant or take-away; answers the sentence to show, or null when the operator cancelled. */
const adjustCredits = action(
  async (projectId: string, telegramUserId: number, data: FormData): Promise<string | null> => {
    const amount = Number(data.get('amount'))
    const direction = data.get('direction') === 'take' ? -1 : 1
    const expires = String(data.get('expires') ?? '')
    const verb = direction > 0 ? 'Grant' : 'Take away'
    if (
      amount > LARGE_ADJUSTMENT &&
      !(await confirmDialog({
        title: `${verb} ${plural(amount, 'credit')}?`,
        body: `That is ${numberInWords(amount)} credits, more than ${formatNumber(LARGE_ADJUSTMENT)} at once. Check the amount before you go on.`,
        confirmLabel: `${verb} ${formatNumber(amount)}`,
        danger: direction < 0,
      }))
    )
      return null
    const result = await api.operator.customers.adjust.mutate({
      projectId,
      telegramUserId,
      amount: direction * amount,
      reason: String(data.get('reason')),
      expiresAt: expires ? new Date(`${expires}T23:59:59`).toISOString() : null,
      idempotencyKey: newKey(),
    })
    return `${direction > 0 ? 'Granted' : 'Took'} ${plural(amount, 'credit')}. Balance: ${formatNumber(result.available)}.`
  },
  'adjust-credits',
)

/**
 * Grant (or take away) credits with a reason; the operator and the reason land in the ledger and
 * the audit log. The router's action revalidates the page's queries once it is done.
 */
export function AdjustCredits(props: { telegramUserId: number }) {
  const session = useSession()
  const submission = useSubmission(adjustCredits)
  let form!: HTMLFormElement
  createEffect(() => {
    if (submission.result) form.reset()
  })
  return (
    <form
      ref={form}
      class="stack"
      action={adjustCredits.with(session.projectId(), props.telegramUserId)}
      method="post"
      aria-label="Grant or adjust credits"
    >
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
      <button type="submit" disabled={submission.pending}>
        {submission.pending ? 'Saving…' : 'Apply'}
      </button>
      <Outcome
        pending={Boolean(submission.pending)}
        error={submission.error}
        success={submission.result}
      />
    </form>
  )
}
