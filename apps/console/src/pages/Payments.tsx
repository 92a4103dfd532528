import {
  A,
  action,
  createAsync,
  json,
  query,
  revalidate,
  useAction,
  useSearchParams,
  useSubmission,
} from '@solidjs/router'
import { createSignal, For, onCleanup, onMount, Show } from 'solid-js'
import { Section } from '../components/Section.tsx'
import { Table } from '../components/Table.tsx'
import { api, describeError, type RouterOutputs } from '../lib/api.ts'
import { customerName, formatDateTime, formatStars, plural } from '../lib/format.ts'
import { byPaidAtDesc, listAllProducts, useProductTitle } from '../lib/products.ts'
import { useSession } from '../lib/session.tsx'

type Filters = {
  status?: 'paid' | 'refunded' | 'unmatched'
  product?: string
  from?: string
  to?: string
}
type Payment = RouterOutputs['operator']['payments']['list']['payments'][number]

const toInput = (f: Filters) => ({
  status: f.status ?? null,
  productKey: f.product ?? null,
  from: f.from ? new Date(`${f.from}T00:00:00`).toISOString() : null,
  to: f.to ? new Date(`${f.to}T23:59:59.999`).toISOString() : null,
})

const listPayments = query(
  (projectId: string, filters: Filters, cursor: string | null) =>
    api.operator.payments.list.query({ projectId, ...toInput(filters), cursor, limit: 50 }),
  'payments',
)

const POLL_MS = 5000

/** The filtered list as a CSV download; reading it changes nothing, so nothing is refetched. */
const exportPayments = action(async (projectId: string, filters: Filters) => {
  const result = await api.operator.payments.exportCsv.query({ projectId, ...toInput(filters) })
  const url = URL.createObjectURL(new Blob([result.csv], { type: 'text/csv' }))
  const link = document.createElement('a')
  link.href = url
  link.download = `payments-${new Date().toISOString().slice(0, 10)}.csv`
  link.click()
  URL.revokeObjectURL(url)
  return json(`Exported ${plural(result.rows, 'payment')}.`, { revalidate: 'nothing' })
}, 'payments-export')

export default function Payments() {
  const session = useSession()
  const [params, setParams] = useSearchParams<Filters & { before?: string }>()
  const filters = (): Filters => ({
    status: params.status,
    product: params.product,
    from: params.from,
    to: params.to,
  })
  const page = createAsync(() =>
    listPayments(session.projectId(), filters(), params.before ?? null),
  )
  const products = createAsync(() => listAllProducts(session.projectId()))
  const productTitle = useProductTitle()
  // The live feed: payments that arrived since the page loaded, newest first.
  const [live, setLive] = createSignal<Payment[]>([])
  const exported = useSubmission(exportPayments)
  const exportCsv = useAction(exportPayments)
  const newestId = () => live()[0]?.id ?? page()?.payments[0]?.id ?? null
  onMount(() => {
    const timer = setInterval(async () => {
      if (params.before || !page()) return
      const after = newestId()
      try {
        const fresh = await api.operator.payments.list.query({
          projectId: session.projectId(),
          ...toInput(filters()),
          after: after ?? undefined,
          limit: 50,
        })
        if (fresh.payments.length > 0) setLive([...fresh.payments, ...live()])
      } catch {
        // The next tick tries again; the table keeps what it shows.
      }
    }, POLL_MS)
    onCleanup(() => clearInterval(timer))
  })
  const applyFilters = (event: SubmitEvent) => {
    event.preventDefault()
    const data = new FormData(event.currentTarget as HTMLFormElement)
    const value = (k: string) => String(data.get(k) ?? '') || undefined
    setLive([])
    setParams({
      status: value('status'),
      product: value('product'),
      from: value('from'),
      to: value('to'),
      before: undefined,
    })
  }
  return (
    <div class="page">
      <header class="page-header">
        <h1>Payments</h1>
        <div class="row">
          <span class="live-dot" title="New payments appear on their own" /> live
          <button
            type="button"
            class="secondary"
            disabled={exported.pending}
            onClick={() => void exportCsv(session.projectId(), filters()).catch(() => {})}
          >
            {exported.pending ? 'Preparing…' : 'Export CSV'}
          </button>
          <Show when={exported.result ?? (exported.error && describeError(exported.error))}>
            {(text) => (
              <span class="muted" role="status">
                {text()}
              </span>
            )}
          </Show>
        </div>
      </header>
      <form class="filters row" onSubmit={applyFilters} aria-label="Filters">
        <label>
          Status
          <select name="status" value={params.status ?? ''}>
            <option value="">Any</option>
            <option value="paid">Paid</option>
            <option value="refunded">Refunded</option>
            <option value="unmatched">Unmatched</option>
          </select>
        </label>
        <label>
          Product
          <select name="product" value={params.product ?? ''}>
            <option value="">Any</option>
            <For each={products() ?? []}>{(p) => <option value={p.key}>{p.title}</option>}</For>
          </select>
        </label>
        <label>
          From
          <input type="date" name="from" value={params.from ?? ''} />
        </label>
        <label>
          To
          <input type="date" name="to" value={params.to ?? ''} />
        </label>
        <button type="submit">Apply</button>
      </form>
      <Section retry={() => revalidate(listPayments.key)}>
        <Show when={page()}>
          {(p) => (
            <>
              <Table
                rows={[...live(), ...p().payments].sort(byPaidAtDesc)}
                testId="payments-table"
                label="Payments"
                empty="No payments match. New ones appear here as they arrive."
                rowProps={(payment) => ({
                  classList: { fresh: live().includes(payment) },
                  'data-paid-at': payment.paidAt,
                })}
                columns={[
                  {
                    header: 'Paid',
                    class: 'when',
                    cell: (payment) => formatDateTime(payment.paidAt, session.timeZone()),
                  },
                  {
                    header: 'Customer',
                    cell: (payment) => (
                      <A href={`/customers/${payment.telegramUserId}`}>
                        {customerName({
                          username: payment.username,
                          firstName: payment.firstName,
                          telegramUserId: payment.telegramUserId,
                        })}
                      </A>
                    ),
                  },
                  { header: 'Product', cell: (payment) => productTitle(payment.productKey) },
                  {
                    header: 'Stars',
                    class: 'num',
                    cell: (payment) => formatStars(payment.amountStars),
                  },
                  {
                    header: 'Status',
                    cell: (payment) => (
                      <>
                        <span class={`badge ${payment.status}`}>{payment.status}</span>
                        <Show when={payment.flag}>
                          <span class="badge warn">{payment.flag}</span>
                        </Show>
                      </>
                    ),
                  },
                  { header: 'Charge', class: 'mono small', cell: (payment) => payment.chargeId },
                ]}
              />
              <Show when={params.before || p().nextCursor}>
                <nav class="pager">
                  <Show when={params.before}>
                    <button
                      type="button"
                      class="secondary"
                      onClick={() => setParams({ before: undefined })}
                    >
                      ← Newest
                    </button>
                  </Show>
                  <button
                    type="button"
                    class="secondary"
                    disabled={!p().nextCursor}
                    onClick={() => setParams({ before: p().nextCursor ?? undefined })}
                  >
                    Older →
                  </button>
                </nav>
              </Show>
            </>
          )}
        </Show>
      </Section>
    </div>
  )
}
