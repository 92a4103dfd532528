import { action, createAsync, query, useAction, useSubmission } from '@solidjs/router'
import { createSignal, For, Show } from 'solid-js'
import { api } from '../../lib/api.ts'
import { listAllProducts } from '../../lib/products.ts'
import { formatUsd } from '../MarginChart.tsx'
import { Table } from '../Table.tsx'
import { MarginOutcome } from './MarginOutcome.tsx'
import { FormProblem, microsOfUsd } from './money.ts'

type Scope = 'project' | 'product' | 'customer'

export const getCaps = query(
  (projectId: string) => api.margin.caps.query({ projectId }),
  'margin-caps',
)

const PERIOD_WORDS = { day: 'a day', month: 'a month' } as const

const addCap = action(async (projectId: string, data: FormData) => {
  const scope = String(data.get('scope')) as Scope
  const period = String(data.get('period')) === 'month' ? 'month' : 'day'
  const capMicros = microsOfUsd(String(data.get('cap') ?? ''))
  if (capMicros === null || capMicros === 0)
    throw new FormProblem('The cap must be a number of dollars above 0 (for example 0.50).')
  const productKey = String(data.get('productKey') ?? '')
  const user = String(data.get('telegramUserId') ?? '').trim()
  if (scope === 'product' && !productKey)
    throw new FormProblem('Choose the product the cap is for.')
  if (scope === 'customer' && !/^\d{1,15}$/.test(user))
    throw new FormProblem('Enter the customer’s Telegram user id (a whole number).')
  await api.margin.addCap.mutate({
    projectId,
    scope,
    period,
    capMicros,
    ...(scope === 'product' ? { productKey } : {}),
    ...(scope === 'customer' ? { telegramUserId: Number(user) } : {}),
  })
  return `Cap added: at most ${formatUsd(capMicros)} of cost per customer ${PERIOD_WORDS[period]}. A call past it is refused.`
}, 'margin-add-cap')

const removeCap = action(async (projectId: string, capId: string) => {
  await api.margin.removeCap.mutate({ projectId, capId })
  return 'Cap removed.'
}, 'margin-remove-cap')

/** Who a cap applies to, in words. */
const appliesTo = (c: {
  scope: string
  productKey: string | null
  telegramUserId: number | null
}) =>
  c.scope === 'project'
    ? 'Every customer'
    : c.scope === 'product'
      ? `Holders of ${c.productKey}`
      : `Customer ${c.telegramUserId}`

/**
 * Cost caps: the most one customer's calls may cost per day or month (the project's time zone).
 * A customer's own cap replaces the others for them. Owners add and remove; viewers read.
 */
export function CostCaps(props: { projectId: string; owner: boolean }) {
  const caps = createAsync(() => getCaps(props.projectId))
  const products = createAsync(() => listAllProducts(props.projectId))
  const adding = useSubmission(addCap)
  const removing = useSubmission(removeCap)
  const remove = useAction(removeCap)
  const [scope, setScope] = createSignal<Scope>('project')
  return (
    <div class="stack">
      <Table
        rows={caps() ?? []}
        testId="cost-caps"
        empty="No cost caps: a heavy user's calls are never refused for their cost."
        rowProps={(c) => ({ 'data-key': c.id })}
        columns={[
          { header: 'Applies to', cell: (c) => appliesTo(c) },
          { header: 'Per', cell: (c) => c.period },
          {
            header: 'Cap',
            class: 'num',
            cell: (c) => <span data-field="cap">{formatUsd(c.capMicros)}</span>,
          },
          ...(props.owner
            ? [
                {
                  header: '',
                  class: 'num',
                  cell: (c: { id: string; capMicros: number; period: string }) => (
                    <button
                      type="button"
                      class="secondary"
                      disabled={removing.pending}
                      aria-label={`Remove the cap of ${formatUsd(c.capMicros)} per ${c.period}`}
                      onClick={() => remove(props.projectId, c.id)}
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
        testid="cap-remove"
      />
      <Show when={props.owner} fallback={<p class="muted">Only an owner can change the caps.</p>}>
        <form
          class="stack"
          action={addCap.with(props.projectId)}
          method="post"
          aria-label="Add a cost cap"
          data-testid="cap-form"
        >
          <div class="row">
            <label>
              Applies to
              <select
                name="scope"
                value={scope()}
                onChange={(e) => setScope(e.currentTarget.value as Scope)}
              >
                <option value="project">Every customer</option>
                <option value="product">Holders of a product</option>
                <option value="customer">One customer</option>
              </select>
            </label>
            <Show when={scope() === 'product'}>
              <label>
                Product
                <select name="productKey" required>
                  <For each={products() ?? []}>
                    {(p) => <option value={p.key}>{p.title}</option>}
                  </For>
                </select>
              </label>
            </Show>
            <Show when={scope() === 'customer'}>
              <label>
                Telegram user id
                <input name="telegramUserId" type="text" inputmode="numeric" required />
              </label>
            </Show>
          </div>
          <div class="row">
            <label>
              Cap, $ of cost
              <input name="cap" type="text" inputmode="decimal" required placeholder="0.50" />
            </label>
            <label>
              Per
              <select name="period">
                <option value="day">day</option>
                <option value="month">month</option>
              </select>
            </label>
            <button type="submit" disabled={adding.pending}>
              {adding.pending ? 'Saving…' : 'Add cap'}
            </button>
          </div>
          <MarginOutcome
            pending={Boolean(adding.pending)}
            error={adding.error}
            success={adding.result}
            testid="cap"
          />
        </form>
      </Show>
    </div>
  )
}
