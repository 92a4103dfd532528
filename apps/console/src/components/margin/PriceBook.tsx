import { action, createAsync, query, useAction, useSubmission } from '@solidjs/router'
import { Show } from 'solid-js'
import { api } from '../../lib/api.ts'
import { formatUsd } from '../MarginChart.tsx'
import { Table } from '../Table.tsx'
import { MarginOutcome } from './MarginOutcome.tsx'
import { FormProblem, microsOfUsd } from './money.ts'

export const getPrices = query(
  (projectId: string) => api.margin.prices.query({ projectId }),
  'margin-prices',
)

const dollars = (data: FormData, field: string, label: string, optional = false) => {
  const text = String(data.get(field) ?? '').trim()
  if (optional && text === '') return null
  const micros = microsOfUsd(text)
  if (micros === null)
    throw new FormProblem(
      `The ${label} price must be a number of dollars per million tokens, 0 or more (for example 0.15).`,
    )
  return micros
}

const setPrice = action(async (projectId: string, data: FormData) => {
  const provider = String(data.get('provider') ?? '').trim()
  const model = String(data.get('model') ?? '').trim()
  if (!provider) throw new FormProblem('Name the provider (for example openai).')
  if (!model) throw new FormProblem('Name the model (for example gpt-4o-mini).')
  const price = {
    inputPerMillionMicros: dollars(data, 'input', 'input')!,
    outputPerMillionMicros: dollars(data, 'output', 'output')!,
    cachedInputPerMillionMicros: dollars(data, 'cached', 'cached input', true),
  }
  const saved = await api.margin.setPrice.mutate({ projectId, provider, model, ...price })
  return `Price saved for ${saved.provider}/${saved.model}: ${formatUsd(saved.inputPerMillionMicros)} in, ${formatUsd(saved.outputPerMillionMicros)} out per million tokens. Calls from now on are priced with it.`
}, 'margin-set-price')

const removePrice = action(
  async (projectId: string, price: { provider: string; model: string }) => {
    await api.margin.removePrice.mutate({ projectId, ...price })
    return `Price removed for ${price.provider}/${price.model}: its calls fall back to the shipped default, or the unpriced-model policy.`
  },
  'margin-remove-price',
)

/**
 * The price book: what each model costs the operator, in dollars per million tokens (stored as
 * micro-USD). Owners add, replace and remove prices; viewers read them.
 */
export function PriceBook(props: { projectId: string; owner: boolean }) {
  const prices = createAsync(() => getPrices(props.projectId))
  const saving = useSubmission(setPrice)
  const removing = useSubmission(removePrice)
  const remove = useAction(removePrice)
  let form!: HTMLFormElement
  return (
    <div class="stack">
      <Table
        rows={prices() ?? []}
        testId="price-book"
        empty="No prices of your own yet: calls use the prices shipped with e-Stars."
        rowProps={(p) => ({ 'data-key': `${p.provider}/${p.model}` })}
        columns={[
          { header: 'Model', cell: (p) => `${p.provider}/${p.model}` },
          { header: 'Input / M', class: 'num', cell: (p) => formatUsd(p.inputPerMillionMicros) },
          { header: 'Output / M', class: 'num', cell: (p) => formatUsd(p.outputPerMillionMicros) },
          {
            header: 'Cached / M',
            class: 'num',
            cell: (p) =>
              p.cachedInputPerMillionMicros === null
                ? 'as input'
                : formatUsd(p.cachedInputPerMillionMicros),
          },
          ...(props.owner
            ? [
                {
                  header: '',
                  class: 'num',
                  cell: (p: { provider: string; model: string }) => (
                    <button
                      type="button"
                      class="secondary"
                      disabled={removing.pending}
                      aria-label={`Remove the price of ${p.provider}/${p.model}`}
                      onClick={() =>
                        remove(props.projectId, { provider: p.provider, model: p.model })
                      }
                    >
                      Remove
                    </button>
                  ),
                },
              ]
            : []),
        ]}
      />
      <MarginOutcome
        pending={Boolean(removing.pending)}
        error={removing.error}
        success={removing.result}
        testid="price-remove"
      />
      <Show
        when={props.owner}
        fallback={<p class="muted">Only an owner can change the price book.</p>}
      >
        <form
          ref={form}
          class="stack"
          action={setPrice.with(props.projectId)}
          method="post"
          aria-label="Set a model's price"
          data-testid="price-form"
        >
          <div class="row">
            <label>
              Provider
              <input name="provider" type="text" required maxLength={100} placeholder="openai" />
            </label>
            <label>
              Model
              <input name="model" type="text" required maxLength={200} placeholder="gpt-4o-mini" />
            </label>
          </div>
          <div class="row">
            <label>
              Input, $ per million tokens
              <input name="input" type="text" inputmode="decimal" required placeholder="0.15" />
            </label>
            <label>
              Output, $ per million tokens
              <input name="output" type="text" inputmode="decimal" required placeholder="0.60" />
            </label>
            <label>
              Cached input (optional)
              <input name="cached" type="text" inputmode="decimal" placeholder="as input" />
            </label>
          </div>
          <div class="row">
            <button type="submit" disabled={saving.pending}>
              {saving.pending ? 'Saving…' : 'Save price'}
            </button>
          </div>
          <MarginOutcome
            pending={Boolean(saving.pending)}
            error={saving.error}
            success={saving.result}
            testid="price"
          />
        </form>
      </Show>
    </div>
  )
}
