import { action, createAsync, query, useSubmission } from '@solidjs/router'
import { createEffect, For, Show } from 'solid-js'
import { api } from '../lib/api.ts'
import { formatDateTime } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'
import { Outcome } from './States.tsx'

const gatedFeatures = query(
  async (projectId: string) =>
    (await api.operator.features.list.query({ projectId })).filter(
      (f) => f.kind === 'gated' && !f.archivedAt,
    ),
  'gated-features',
)

/** Access to a gated feature by hand: for some days (stacked on current access) or for life. */
const grantAccess = action(
  async (projectId: string, telegramUserId: number, timeZone: string, d: FormData) => {
    const days = String(d.get('days') ?? '')
    const result = await api.operator.customers.grantEntitlement.mutate({
      projectId,
      telegramUserId,
      featureKey: String(d.get('feature')),
      durationDays: days ? Number(days) : null,
    })
    return result.accessUntil
      ? `Access until ${formatDateTime(result.accessUntil, timeZone)}.`
      : 'Access for life.'
  },
  'grant-access',
)

/** The form for `grantAccess`; the router revalidates the customer's panels once it is done. */
export function GrantAccess(props: { telegramUserId: number }) {
  const session = useSession()
  const features = createAsync(() => gatedFeatures(session.projectId()))
  const submission = useSubmission(grantAccess)
  let form!: HTMLFormElement
  createEffect(() => {
    if (submission.result) form.reset()
  })
  return (
    <Show when={(features() ?? []).length > 0}>
      <form
        ref={form}
        class="row"
        action={grantAccess.with(session.projectId(), props.telegramUserId, session.timeZone())}
        method="post"
        aria-label="Grant access"
      >
        <label>
          Feature
          <select name="feature" required>
            <For each={features()}>{(f) => <option value={f.key}>{f.name}</option>}</For>
          </select>
        </label>
        <label>
          Days (empty = life)
          <input name="days" type="number" min="1" max="36500" />
        </label>
        <button type="submit" class="secondary" disabled={submission.pending}>
          Grant access
        </button>
      </form>
      <Outcome
        pending={Boolean(submission.pending)}
        error={submission.error}
        success={submission.result}
      />
    </Show>
  )
}
