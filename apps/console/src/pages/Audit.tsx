import {
  action,
  createAsync,
  json,
  query,
  revalidate,
  useAction,
  useSearchParams,
  useSubmission,
} from '@solidjs/router'
import { createSignal, Show } from 'solid-js'
import { Section } from '../components/Section.tsx'
import { Table } from '../components/Table.tsx'
import { api, type RouterOutputs } from '../lib/api.ts'
import { formatDateTime } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

type Entry = RouterOutputs['operator']['audit']['list']['entries'][number]

const listAudit = query(
  (projectId: string, action: string | null) =>
    api.operator.audit.list.query({ projectId, action, limit: 50 }),
  'audit',
)

/** The next older page; reading changes nothing, so nothing is refetched. */
const loadOlderEntries = action(
  async (projectId: string, action: string | null, cursor: string | null) =>
    json(await api.operator.audit.list.query({ projectId, action, cursor, limit: 50 }), {
      revalidate: 'nothing',
    }),
  'audit-older',
)

/** `{ a: 1, b: 'x' }` → "a: 1\nb: x": one fact per line. */
function show(value: unknown): string {
  if (value === null || value === undefined) return '—'
  if (typeof value !== 'object' || Array.isArray(value)) return JSON.stringify(value)
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('\n')
}

export default function Audit() {
  const session = useSession()
  const [params, setParams] = useSearchParams<{ action?: string }>()
  const page = createAsync(() => listAudit(session.projectId(), params.action ?? null))
  const [older, setOlder] = createSignal<Entry[]>([])
  const [cursor, setCursor] = createSignal<string | null | undefined>(undefined)
  const next = () => (cursor() === undefined ? page()?.nextCursor : cursor())
  const loading = useSubmission(loadOlderEntries)
  const loadOlder = useAction(loadOlderEntries)
  const more = async () => {
    const result = await loadOlder(
      session.projectId(),
      params.action ?? null,
      next() ?? null,
    ).catch(() => null)
    if (!result) return
    setOlder([...older(), ...result.entries])
    setCursor(result.nextCursor)
  }
  return (
    <div class="page">
      <header class="page-header">
        <h1>Audit log</h1>
        <label class="row">
          Action
          <select
            value={params.action ?? ''}
            onChange={(e) => {
              setOlder([])
              setCursor(undefined)
              setParams({ action: e.currentTarget.value || undefined })
            }}
          >
            <option value="">All</option>
            <option value="credits.">Credits</option>
            <option value="payment.">Refunds</option>
            <option value="customer.">Block / unblock</option>
            <option value="api_key.">API keys</option>
            <option value="product.">Products</option>
            <option value="feature.">Features</option>
            <option value="settings.">Settings</option>
            <option value="bot_token.">Bot token</option>
            <option value="reconciliation.">Reconciliation</option>
          </select>
        </label>
      </header>
      <Section retry={() => revalidate(listAudit.key)}>
        <Show when={page()}>
          {(p) => (
            <>
              <Table
                rows={[...p().entries, ...older()]}
                class="audit"
                testId="audit"
                label="Audit log"
                empty="No operator actions recorded yet."
                columns={[
                  {
                    header: 'When',
                    class: 'when',
                    cell: (e) => formatDateTime(e.createdAt, session.timeZone()),
                  },
                  { header: 'Who', cell: (e) => e.actor.replace(/^operator:/, '') },
                  { header: 'What', class: 'mono', cell: (e) => e.action },
                  { header: 'Target', class: 'mono small', cell: (e) => e.target ?? '—' },
                  { header: 'Before', cell: (e) => <pre>{show(e.before)}</pre> },
                  { header: 'After', cell: (e) => <pre>{show(e.after)}</pre> },
                ]}
              />
              <Show when={next()}>
                <button type="button" class="secondary" disabled={loading.pending} onClick={more}>
                  {loading.pending ? 'Loading…' : 'Older entries'}
                </button>
              </Show>
            </>
          )}
        </Show>
      </Section>
    </div>
  )
}
