import { action, createAsync, query, useSubmission } from '@solidjs/router'
import { Show } from 'solid-js'
import { api } from '../../lib/api.ts'
import { MarginOutcome } from './MarginOutcome.tsx'
import { FormProblem, microsOfUsd, usdOfMicros } from './money.ts'

export const getMarginSettings = query(
  (projectId: string) => api.margin.settings.query({ projectId }),
  'margin-settings',
)

type Current = { usdPerStarMicros: number; usdPerStarSetAt: string | null }

const saveSettings = action(async (projectId: string, current: Current, data: FormData) => {
  const usdPerStarMicros = microsOfUsd(String(data.get('usdPerStar') ?? ''))
  if (usdPerStarMicros === null)
    throw new FormProblem(
      'The rate must be a number of dollars per Star, 0 or more (for example 0.013).',
    )
  const alert = String(data.get('alertPercent') ?? '').trim()
  if (alert !== '' && !/^[-−]?\d{1,3}$/.test(alert))
    throw new FormProblem(
      'The alert threshold must be a whole percentage from −100 to 100, or empty.',
    )
  const marginAlertPercent = alert === '' ? null : Number(alert.replace('−', '-'))
  if (marginAlertPercent !== null && Math.abs(marginAlertPercent) > 100)
    throw new FormProblem(
      'The alert threshold must be a whole percentage from −100 to 100, or empty.',
    )
  const policy = String(data.get('unpricedModelPolicy')) === 'refuse' ? 'refuse' : 'flag'
  // Saving the rate stamps it as the operator's own: an untouched default stays an assumption.
  const rateChanged = usdPerStarMicros !== current.usdPerStarMicros || current.usdPerStarSetAt
  await api.margin.updateSettings.mutate({
    projectId,
    ...(rateChanged ? { usdPerStarMicros } : {}),
    unpricedModelPolicy: policy,
    marginAlertPercent,
  })
  return 'Margin settings saved. The rate values lots created from now on.'
}, 'margin-settings')

/**
 * The USD-per-Star rate (revenue of paid credits), what happens to a call on a model with no
 * price, and the daily margin alert. Owners change them; viewers read them.
 */
export function MarginSettingsForm(props: { projectId: string; owner: boolean }) {
  const settings = createAsync(() => getMarginSettings(props.projectId))
  const saving = useSubmission(saveSettings)
  return (
    <Show when={settings()}>
      {(s) => (
        <form
          class="stack"
          action={saveSettings.with(props.projectId, s())}
          method="post"
          aria-label="Margin settings"
          data-testid="margin-settings"
        >
          <fieldset disabled={!props.owner}>
            <div class="row">
              <label>
                USD per Star
                <input
                  name="usdPerStar"
                  type="text"
                  inputmode="decimal"
                  required
                  value={usdOfMicros(s().usdPerStarMicros)}
                />
              </label>
              <label>
                A call on a model with no price
                <select name="unpricedModelPolicy" value={s().unpricedModelPolicy}>
                  <option value="flag">is recorded and flagged</option>
                  <option value="refuse">is refused</option>
                </select>
              </label>
              <label>
                Alert when a day's margin is below (%)
                <input
                  name="alertPercent"
                  type="text"
                  inputmode="numeric"
                  placeholder="off"
                  value={s().marginAlertPercent ?? ''}
                />
              </label>
            </div>
            <p class="muted">
              {s().usdPerStarSetAt
                ? `Rate set on ${new Date(s().usdPerStarSetAt!).toLocaleDateString()}.`
                : 'The rate is an assumption (0.013 USD, the widely reported payout rate) until you save your own.'}{' '}
            </p>
            <Show when={props.owner}>
              <div class="row">
                <button type="submit" disabled={saving.pending}>
                  {saving.pending ? 'Saving…' : 'Save settings'}
                </button>
              </div>
            </Show>
          </fieldset>
          <Show when={!props.owner}>
            <p class="muted">Only an owner can change these settings.</p>
          </Show>
          <MarginOutcome
            pending={Boolean(saving.pending)}
            error={saving.error}
            success={saving.result}
            testid="settings"
          />
        </form>
      )}
    </Show>
  )
}
