import { createAsync, query, revalidate } from '@solidjs/router'
import { createSignal, For, Show } from 'solid-js'
import { Section } from '../components/Section.tsx'
import { Empty, Outcome } from '../components/States.tsx'
import { api } from '../lib/api.ts'
import { formatDateTime, formatNumber, plural } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

const listRuns = query(
  (projectId: string) => api.operator.reconciliation.runs.query({ projectId }),
  'recon-runs',
)
const listFindings = query(
  (projectId: string) => api.operator.reconciliation.findings.query({ projectId }),
  'recon-findings',
)

export default function Reconciliation() {
  const session = useSession()
  const runs = createAsync(() => listRuns(session.projectId()))
  const findings = createAsync(() => listFindings(session.projectId()))
  const [pending, setPending] = createSignal(false)
  const [error, setError] = createSignal<unknown>(null)
  const [done, setDone] = createSignal<string | null>(null)
  const act = async (label: (r: unknown) => string, fn: () => Promise<unknown>) => {
    setPending(true)
    setError(null)
    setDone(null)
    try {
      const result = await fn()
      setDone(label(result))
      await revalidate([listRuns.key, listFindings.key])
    } catch (e) {
      setError(e)
    } finally {
      setPending(false)
    }
  }
  const tz = () => session.timeZone()
  return (
    <div class="page">
      <header class="page-header">
        <h1>Reconciliation</h1>
        <Show when={session.isOwner()}>
          <button
            type="button"
            disabled={pending()}
            onClick={() =>
              act(
                (r) => {
                  const result = r as { status: string; findings?: unknown[] }
                  return result.status === 'succeeded'
                    ? `Run finished: ${plural(result.findings?.length ?? 0, 'new finding')}.`
                    : 'Another run is in progress.'
                },
                () => api.operator.reconciliation.runNow.mutate({ projectId: session.projectId() }),
              )
            }
          >
            Run now
          </button>
        </Show>
      </header>
      <Outcome pending={pending()} error={error()} success={done()} />
      <p class="muted">
        Telegram's star transactions are the truth for charges. Each run compares them with the
        payments here, repairs what it can (a missing payment or refund) and flags the rest.
      </p>
      <Section title="Findings" retry={() => revalidate(listFindings.key)}>
        <Show when={findings()}>
          {(list) => (
            <Show
              when={list().length > 0}
              fallback={<Empty>No differences found. Telegram and e-Stars agree.</Empty>}
            >
              <div class="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th>Found</th>
                      <th>Kind</th>
                      <th>Charge</th>
                      <th>Action</th>
                      <th>Resolution</th>
                    </tr>
                  </thead>
                  <tbody>
                    <For each={list()}>
                      {(f) => (
                        <tr>
                          <td>{formatDateTime(f.createdAt, tz())}</td>
                          <td>{f.kind.replaceAll('_', ' ')}</td>
                          <td class="mono small">{f.telegramPaymentChargeId ?? '—'}</td>
                          <td>
                            <span class={`badge ${f.action === 'flagged' ? 'warn' : ''}`}>
                              {f.action}
                            </span>
                          </td>
                          <td>
                            <Show
                              when={!f.resolvedAt && f.action === 'flagged'}
                              fallback={
                                f.resolution ? `${f.resolution} (${f.resolvedBy ?? ''})` : '—'
                              }
                            >
                              <Show when={session.isOwner()} fallback="open">
                                <form
                                  class="row"
                                  onSubmit={(event) => {
                                    event.preventDefault()
                                    const d = new FormData(event.currentTarget)
                                    void act(
                                      () => 'Finding resolved.',
                                      () =>
                                        api.operator.reconciliation.resolve.mutate({
                                          projectId: session.projectId(),
                                          findingId: f.id,
                                          resolution: String(d.get('resolution')),
                                        }),
                                    )
                                  }}
                                >
                                  <input
                                    name="resolution"
                                    required
                                    placeholder="What was done"
                                    aria-label="Resolution"
                                  />
                                  <button type="submit" class="small">
                                    Resolve
                                  </button>
                                </form>
                              </Show>
                            </Show>
                          </td>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
              </div>
            </Show>
          )}
        </Show>
      </Section>
      <Section title="Runs" retry={() => revalidate(listRuns.key)}>
        <Show when={runs()}>
          {(list) => (
            <Show when={list().length > 0} fallback={<Empty>No runs yet.</Empty>}>
              <div class="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th>Started</th>
                      <th>Trigger</th>
                      <th>Status</th>
                      <th class="num">Transactions</th>
                      <th>Summary</th>
                    </tr>
                  </thead>
                  <tbody>
                    <For each={list()}>
                      {(r) => (
                        <tr>
                          <td>{formatDateTime(r.startedAt, tz())}</td>
                          <td>{r.trigger}</td>
                          <td>
                            <span class={`badge ${r.status === 'failed' ? 'danger' : ''}`}>
                              {r.status}
                            </span>
                            <Show when={r.error}>
                              <div class="form-error">{r.error}</div>
                            </Show>
                          </td>
                          <td class="num">{formatNumber(r.transactionsSeen)}</td>
                          <td>{r.summaryWords.join(', ') || '—'}</td>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
              </div>
            </Show>
          )}
        </Show>
      </Section>
    </div>
  )
}
