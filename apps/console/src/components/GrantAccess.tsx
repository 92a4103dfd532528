import { createAsync, query } from '@solidjs/router'
import { createSignal, For, Show } from 'solid-js'
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

/** Grants access to a gated feature by hand: for some days (stacked on current access) or for life. */
export function GrantAccess(props: { telegramUserId: number; onDone: () => void }) {
  const session = useSession()
  const features = createAsync(() => gatedFeatures(session.projectId()))
  const [pending, setPending] = createSignal(false)
  const [error, setError] = createSignal<unknown>(null)
  const [done, setDone] = createSignal<string | null>(null)
  const submit = async (event: SubmitEvent) => {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const d = new FormData(form)
    const days = String(d.get('days') ?? '')
    setPending(true)
    setError(null)
    setDone(null)
    try {
      const result = await api.operator.customers.grantEntitlement.mutate({
        projectId: session.projectId(),
        telegramUserId: props.telegramUserId,
        featureKey: String(d.get('feature')),
        durationDays: days ? Number(days) : null,
      })
      setDone(
        result.accessUntil
          ? `Access until ${formatDateTime(result.accessUntil, session.timeZone())}.`
          : 'Access for life.',
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
    <Show when={(features() ?? []).length > 0}>
      <form class="row" onSubmit={submit} aria-label="Grant access">
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
        <button type="submit" class="secondary" disabled={pending()}>
          Grant access
        </button>
      </form>
      <Outcome pending={pending()} error={error()} success={done()} />
    </Show>
  )
}
