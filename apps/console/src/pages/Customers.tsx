import { A, createAsync, query, revalidate, useSearchParams } from '@solidjs/router'
import { createSignal, Show } from 'solid-js'
import { Section } from '../components/Section.tsx'
import { Table } from '../components/Table.tsx'
import { api } from '../lib/api.ts'
import { customerName, formatDateTime, formatNumber, formatStars } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

const searchCustomers = query(
  (projectId: string, q: string, cursor: string | null) =>
    api.operator.customers.search.query({ projectId, query: q || null, cursor, limit: 25 }),
  'customers',
)

/** The API's limit on a search term. */
const SEARCH_LIMIT = 100

export default function Customers() {
  const session = useSession()
  const [params, setParams] = useSearchParams<{ q?: string; after?: string }>()
  // Cursors of the pages before this one, for "Previous".
  const [history, setHistory] = createSignal<Array<string | null>>([])
  const [tooLong, setTooLong] = createSignal(false)
  const q = () => params.q ?? ''
  const cursor = () => params.after ?? null
  const page = createAsync(() => searchCustomers(session.projectId(), q(), cursor()))
  let input!: HTMLInputElement
  return (
    <div class="page">
      <header class="page-header">
        <h1>Customers</h1>
      </header>
      <form
        class="search"
        aria-label="Search"
        onSubmit={(e) => {
          e.preventDefault()
          const term = input.value.trim()
          // The API takes at most 100 characters: say so here instead of sending a refusal.
          if (term.length > SEARCH_LIMIT) {
            setTooLong(true)
            return
          }
          setTooLong(false)
          setHistory([])
          setParams({ q: term || undefined, after: undefined })
        }}
      >
        <input
          ref={input}
          type="search"
          name="q"
          aria-label="Search customers"
          placeholder="Telegram id, @username or name"
          value={q()}
        />
        <button type="submit">Search</button>
      </form>
      <Show when={tooLong()}>
        <p class="form-error" role="alert">
          A search is at most {SEARCH_LIMIT} characters: shorten it to a name, @username or id.
        </p>
      </Show>
      <Section retry={() => revalidate(searchCustomers.key)}>
        <Show when={page()}>
          {(p) => (
            <>
              <Table
                rows={p().customers}
                class="customers"
                label="Customers"
                empty={
                  q()
                    ? `No customer matches “${q()}”.`
                    : 'No customers yet: they appear when your bot first sees them.'
                }
                columns={[
                  {
                    header: 'Customer',
                    cell: (c) => (
                      <>
                        <A href={`/customers/${c.telegramUserId}`}>{customerName(c)}</A>
                        <Show when={c.username}>
                          <span class="muted"> @{c.username}</span>
                        </Show>
                      </>
                    ),
                  },
                  { header: 'Telegram id', class: 'mono', cell: (c) => c.telegramUserId },
                  { header: 'Balance', class: 'num', cell: (c) => formatNumber(c.available) },
                  { header: 'Held', class: 'num', cell: (c) => formatNumber(c.held) },
                  {
                    header: 'Debt',
                    class: 'num',
                    cellClass: (c) => c.debt > 0 && 'warn',
                    cell: (c) => formatNumber(c.debt),
                  },
                  { header: 'Lifetime', class: 'num', cell: (c) => formatStars(c.lifetimeStars) },
                  {
                    header: 'Last activity',
                    class: 'when',
                    cell: (c) => formatDateTime(c.lastActiveAt, session.timeZone()),
                  },
                  {
                    header: '',
                    cell: (c) => (
                      <Show when={c.blocked}>
                        <span class="badge danger">blocked</span>
                      </Show>
                    ),
                  },
                ]}
              />
              <Show when={history().length > 0 || p().nextCursor}>
                <nav class="pager" aria-label="Pages">
                  <button
                    type="button"
                    class="secondary"
                    disabled={history().length === 0}
                    onClick={() => {
                      const previous = history()
                      setHistory(previous.slice(0, -1))
                      setParams({ after: previous[previous.length - 1] ?? undefined })
                    }}
                  >
                    ← Previous
                  </button>
                  <button
                    type="button"
                    class="secondary"
                    disabled={!p().nextCursor}
                    onClick={() => {
                      setHistory([...history(), cursor()])
                      setParams({ after: p().nextCursor ?? undefined })
                    }}
                  >
                    Next →
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
