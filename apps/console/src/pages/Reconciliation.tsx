import { action, createAsync, query, revalidate, useAction, useSubmission } from '@solidjs/router'
import { Show } from 'solid-js'
import { Section } from '../components/Section.tsx'
import { Outcome } from '../components/States.tsx'
import { Table } from '../components/Table.tsx'
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

/** A run now, owner-only; answers what it found. The router then refetches runs and findings. */
const runNow = action(async (projectId: string) => {
  const result = await api.operator.reconciliation.runNow.mutate({ projectId })
  return result.status === 'succeeded'
    ? `Run finished: ${plural(result.findings?.length ?? 0, 'new finding')}.`
    : 'Another run is in progress.'
}, 'recon-run')

const resolveFinding = action(async (projectId: string, findingId: string, d: FormData) => {
  await api.operator.reconciliation.resolve.mutate({
    projectId,
    findingId,
    resolution: String(d.get('resolution')),
  })
  return 'Finding resolved.'
}, 'recon-resolve')

export default function Reconciliation() {
  const session = useSession()
  const runs = createAsync(() => listRuns(session.projectId()))
  const findings = createAsync(() => listFindings(session.projectId()))
  const run = useAction(runNow)
  const ran = useSubmission(runNow)
  const resolved = useSubmission(resolveFinding)
  const tz = () => session.timeZone()
  return (
    <div class="page">
      <header class="page-header">
        <h1>Reconciliation</h1>
        <Show when={session.isOwner()}>
          <button
            type="button"
            disabled={ran.pending}
            onClick={() => void run(session.projectId()).catch(() => {})}
          >
            Run now
          </button>
        </Show>
      </header>
      <Outcome pending={Boolean(ran.pending)} error={ran.error} success={ran.result} />
      <Outcome
        pending={Boolean(resolved.pending)}
        error={resolved.error}
        success={resolved.result}
      />
      <p class="muted">
        Telegram's star transactions are the truth for charges. Each run compares them with the
        payments here, repairs what it can (a missing payment or refund) and flags the rest.
      </p>
      <Section title="Findings" retry={() => revalidate(listFindings.key)}>
        <Show when={findings()}>
          {(list) => (
            <Table
              rows={list()}
              label="Findings"
              empty="No differences found. Telegram and e-Stars agree."
              columns={[
                { header: 'Found', class: 'when', cell: (f) => formatDateTime(f.createdAt, tz()) },
                { header: 'Kind', cell: (f) => f.kind.replaceAll('_', ' ') },
                {
                  header: 'Charge',
                  class: 'mono small',
                  cell: (f) => f.telegramPaymentChargeId ?? '—',
                },
                {
                  header: 'Action',
                  cell: (f) => (
                    <span class={`badge ${f.action === 'flagged' ? 'warn' : ''}`}>{f.action}</span>
                  ),
                },
                {
                  header: 'Resolution',
                  cell: (f) => (
                    <Show
                      when={!f.resolvedAt && f.action === 'flagged'}
                      fallback={f.resolution ? `${f.resolution} (${f.resolvedBy ?? ''})` : '—'}
                    >
                      <Show when={session.isOwner()} fallback="open">
                        <form
                          class="row"
                          action={resolveFinding.with(session.projectId(), f.id)}
                          method="post"
                        >
                          <input
                            name="resolution"
                            required
                            placeholder="What was done"
                            aria-label="Resolution"
                          />
                          <button type="submit" class="small" disabled={resolved.pending}>
                            Resolve
                          </button>
                        </form>
                      </Show>
                    </Show>
                  ),
                },
              ]}
            />
          )}
        </Show>
      </Section>
      <Section title="Runs" retry={() => revalidate(listRuns.key)}>
        <Show when={runs()}>
          {(list) => (
            <Table
              rows={list()}
              label="Runs"
              empty="No runs yet."
              columns={[
                {
                  header: 'Started',
                  class: 'when',
                  cell: (r) => formatDateTime(r.startedAt, tz()),
                },
                { header: 'Trigger', cell: (r) => r.trigger },
                {
                  header: 'Status',
                  cell: (r) => (
                    <>
                      <span class={`badge ${r.status === 'failed' ? 'danger' : ''}`}>
                        {r.status}
                      </span>
                      <Show when={r.error}>
                        <div class="form-error">{r.error}</div>
                      </Show>
                    </>
                  ),
                },
                {
                  header: 'Transactions',
                  class: 'num',
                  cell: (r) => formatNumber(r.transactionsSeen),
                },
                { header: 'Summary', cell: (r) => r.summaryWords.join(', ') || '—' },
              ]}
            />
          )}
        </Show>
      </Section>
    </div>
  )
}
