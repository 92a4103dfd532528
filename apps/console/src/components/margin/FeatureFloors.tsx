import { action, createAsync, query, useSubmission } from '@solidjs/router'
import { For, Show } from 'solid-js'
import { api } from '../../lib/api.ts'
import { Empty } from '../States.tsx'
import { MarginOutcome } from './MarginOutcome.tsx'
import { FormProblem } from './money.ts'

export const getFeatureFloors = query(
  (projectId: string) => api.margin.featureFloors.query({ projectId }),
  'margin-feature-floors',
)

const saveFloor = action(async (projectId: string, data: FormData) => {
  const featureKey = String(data.get('featureKey') ?? '')
  if (!featureKey) throw new FormProblem('Choose a feature.')
  const text = String(data.get('floorPercent') ?? '').trim()
  if (text !== '' && !/^\d{1,3}$/.test(text))
    throw new FormProblem('The margin floor must be a whole percentage from 0 to 100, or empty.')
  const floorPercent = text === '' ? null : Number(text)
  if (floorPercent !== null && floorPercent > 100)
    throw new FormProblem('The margin floor must be a whole percentage from 0 to 100, or empty.')
  await api.margin.setFeatureFloor.mutate({ projectId, featureKey, floorPercent })
  return floorPercent === null
    ? `No margin floor on ${featureKey}.`
    : `Margin floor of ${floorPercent} % saved on ${featureKey}: a reservation whose expected cost would leave less is capped or refused.`
}, 'margin-feature-floor')

/**
 * A metered feature's margin floor: at reserve, the expected cost may not exceed the value of the
 * credits held × (1 − floor). Owners set it; viewers read it.
 */
export function FeatureFloors(props: { projectId: string; owner: boolean }) {
  const floors = createAsync(() => getFeatureFloors(props.projectId))
  const saving = useSubmission(saveFloor)
  return (
    <Show when={(floors() ?? []).length > 0} fallback={<Empty>No metered features yet.</Empty>}>
      <div class="stack">
        <div class="table-scroll">
          <table data-testid="feature-floors">
            <thead>
              <tr>
                <th>Feature</th>
                <th class="num">Margin floor</th>
              </tr>
            </thead>
            <tbody>
              <For each={floors()}>
                {(f) => (
                  <tr data-key={f.featureKey}>
                    <td>{f.name}</td>
                    <td class="num">{f.floorPercent === null ? 'none' : `${f.floorPercent} %`}</td>
                  </tr>
                )}
              </For>
            </tbody>
          </table>
        </div>
        <Show
          when={props.owner}
          fallback={<p class="muted">Only an owner can change the margin floors.</p>}
        >
          <form
            class="row"
            action={saveFloor.with(props.projectId)}
            method="post"
            aria-label="Set a feature's margin floor"
            data-testid="floor-form"
          >
            <label>
              Feature
              <select name="featureKey">
                <For each={floors()}>{(f) => <option value={f.featureKey}>{f.name}</option>}</For>
              </select>
            </label>
            <label>
              Floor (%)
              <input name="floorPercent" type="text" inputmode="numeric" placeholder="none" />
            </label>
            <button type="submit" disabled={saving.pending}>
              {saving.pending ? 'Saving…' : 'Save floor'}
            </button>
          </form>
          <MarginOutcome
            pending={Boolean(saving.pending)}
            error={saving.error}
            success={saving.result}
            testid="floor"
          />
        </Show>
      </div>
    </Show>
  )
}
