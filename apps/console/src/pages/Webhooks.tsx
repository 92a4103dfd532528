import { createAsync, query, revalidate } from '@solidjs/router'
import { createSignal, For, Show } from 'solid-js'
import { confirmDialog } from '../components/ConfirmDialog.tsx'
import { Section } from '../components/Section.tsx'
import { Empty, Outcome } from '../components/States.tsx'
import { api } from '../lib/api.ts'
import { formatDateTime, plural } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

const listEndpoints = query(
  (projectId: string) => api.webhooks.list.query({ projectId }),
  'webhook-endpoints',
)
const listEventTypes = query(
  (projectId: string) => api.webhooks.eventTypes.query({ projectId }),
  'webhook-event-types',
)
const listDeliveries = query(
  (projectId: string, endpointId: string) =>
    api.webhooks.deliveries.query({ projectId, endpointId }),
  'webhook-deliveries',
)

function useAct() {
  const [pending, setPending] = createSignal(false)
  const [error, setError] = createSignal<unknown>(null)
  const [done, setDone] = createSignal<string | null>(null)
  const run = async (label: string, fn: () => Promise<unknown>) => {
    setPending(true)
    setError(null)
    setDone(null)
    try {
      await fn()
      setDone(label)
    } catch (e) {
      setError(e)
    } finally {
      setPending(false)
    }
  }
  return { pending, error, done, run }
}

/** One endpoint's delivery log: status, attempts, the answer's code or why it failed, and "Send again". */
function DeliveryLog(props: { endpointId: string; readOnly: boolean }) {
  const session = useSession()
  const deliveries = createAsync(() => listDeliveries(session.projectId(), props.endpointId))
  const act = useAct()
  return (
    <Section title="Delivery log" retry={() => revalidate(listDeliveries.key)}>
      <Show when={deliveries()}>
        {(list) => (
          <Show when={list().length > 0} fallback={<Empty>No deliveries yet.</Empty>}>
            <div class="table-scroll">
              <table data-testid="webhook-deliveries">
                <thead>
                  <tr>
                    <th>Event</th>
                    <th>Status</th>
                    <th>Attempts</th>
                    <th>Answer</th>
                    <th>Time</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  <For each={list()}>
                    {(d) => (
                      <tr>
                        <td>
                          {d.eventType} <span class="mono">evt_{d.eventId}</span>
                        </td>
                        <td>
                          <span
                            class={`badge ${d.status === 'failed' ? 'danger' : d.status === 'pending' ? 'warning' : ''}`}
                          >
                            {d.status}
                          </span>
                        </td>
                        <td>{d.attempts}</td>
                        <td>
                          {d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : (d.lastError ?? '—')}
                        </td>
                        <td>
                          {formatDateTime(d.deliveredAt ?? d.createdAt, session.timeZone())}
                          <Show when={d.status === 'pending' && d.attempts > 0}>
                            {' '}
                            (next {formatDateTime(d.nextAttemptAt, session.timeZone())})
                          </Show>
                        </td>
                        <td>
                          <Show when={!props.readOnly}>
                            <button
                              type="button"
                              class="secondary small"
                              onClick={() =>
                                void act.run('Queued to send again.', async () => {
                                  await api.webhooks.resend.mutate({
                                    projectId: session.projectId(),
                                    deliveryId: d.id,
                                  })
                                  await revalidate(listDeliveries.key)
                                })
                              }
                            >
                              Send again
                            </button>
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
      <Outcome pending={act.pending()} error={act.error()} success={act.done()} />
    </Section>
  )
}

/** Signed webhooks (docs/webhooks.md): endpoints, their secret shown once, and delivery logs. */
export default function Webhooks() {
  const session = useSession()
  const endpoints = createAsync(() => listEndpoints(session.projectId()))
  const eventTypes = createAsync(() => listEventTypes(session.projectId()))
  const act = useAct()
  const [secret, setSecret] = createSignal<{
    url: string
    secret: string
    /** After a rotation: until when the previous secret still signs. */
    previousUntil?: string
  } | null>(null)
  const [open, setOpen] = createSignal<string | null>(null)
  const readOnly = () => !session.isOwner()
  return (
    <div class="page">
      <header class="page-header">
        <h1>Webhooks</h1>
      </header>
      <Section title="Endpoints" retry={() => revalidate(listEndpoints.key)}>
        <Show when={secret()}>
          {(s) => (
            <div class="callout" role="status" data-testid="webhook-secret">
              <p>
                <strong>Copy the signing secret for {s().url} now: it is shown once.</strong>
              </p>
              <code class="secret">{s().secret}</code>
              <Show when={s().previousUntil}>
                {(until) => (
                  <p>
                    Until {formatDateTime(until(), session.timeZone())}, deliveries are signed with
                    both this secret and the previous one: switch your receiver to it before then.
                  </p>
                )}
              </Show>
              <button type="button" class="secondary small" onClick={() => setSecret(null)}>
                I stored it
              </button>
            </div>
          )}
        </Show>
        <Show when={endpoints()}>
          {(list) => (
            <Show
              when={list().length > 0}
              fallback={<Empty>No endpoints yet: events reach no backend.</Empty>}
            >
              <div class="table-scroll">
                <table data-testid="webhook-endpoints">
                  <thead>
                    <tr>
                      <th>URL</th>
                      <th>Events</th>
                      <th>Status</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    <For each={list()}>
                      {(e) => (
                        <tr>
                          <td class="mono">{e.url}</td>
                          <td>
                            {e.eventTypes.length === 0
                              ? 'all events'
                              : plural(e.eventTypes.length, 'event type')}
                          </td>
                          <td>
                            {e.disabledAt ? (
                              <span class="badge danger">
                                off since {formatDateTime(e.disabledAt, session.timeZone())}
                              </span>
                            ) : (
                              'on'
                            )}
                            <Show when={e.previousSecretUntil}>
                              {(until) => (
                                <>
                                  {' '}
                                  <span class="badge warning" data-testid="webhook-overlap">
                                    previous secret signs until{' '}
                                    {formatDateTime(until(), session.timeZone())}
                                  </span>
                                </>
                              )}
                            </Show>
                          </td>
                          <td class="row">
                            <button
                              type="button"
                              class="secondary small"
                              onClick={() => setOpen(open() === e.id ? null : e.id)}
                            >
                              {open() === e.id ? 'Hide log' : 'Delivery log'}
                            </button>
                            <Show when={!readOnly()}>
                              <button
                                type="button"
                                class="secondary small"
                                onClick={() =>
                                  void act.run(
                                    e.disabledAt ? 'Turned on.' : 'Turned off.',
                                    async () => {
                                      await api.webhooks.setEnabled.mutate({
                                        projectId: session.projectId(),
                                        endpointId: e.id,
                                        enabled: Boolean(e.disabledAt),
                                      })
                                      await revalidate(listEndpoints.key)
                                    },
                                  )
                                }
                              >
                                {e.disabledAt ? 'Turn on' : 'Turn off'}
                              </button>
                              <button
                                type="button"
                                class="secondary small"
                                onClick={async () => {
                                  const sure = await confirmDialog({
                                    title: `Rotate the signing secret of ${e.url}?`,
                                    body: 'A new secret is shown once. For 24 hours deliveries carry signatures with both the new and the current secret; after that, only the new one.',
                                    confirmLabel: 'Rotate secret',
                                  })
                                  if (!sure) return
                                  void act.run('Secret rotated.', async () => {
                                    const rotated = await api.webhooks.rotateSecret.mutate({
                                      projectId: session.projectId(),
                                      endpointId: e.id,
                                    })
                                    setSecret({
                                      url: rotated.endpoint.url,
                                      secret: rotated.secret,
                                      previousUntil: rotated.previousSecretUntil,
                                    })
                                    await revalidate(listEndpoints.key)
                                  })
                                }}
                              >
                                Rotate secret
                              </button>
                              <button
                                type="button"
                                class="secondary small"
                                onClick={async () => {
                                  const sure = await confirmDialog({
                                    title: `Delete the endpoint ${e.url}?`,
                                    body: 'Its delivery log goes with it; events stop reaching it.',
                                    confirmLabel: 'Delete',
                                    danger: true,
                                  })
                                  if (!sure) return
                                  void act.run('Endpoint deleted.', async () => {
                                    await api.webhooks.delete.mutate({
                                      projectId: session.projectId(),
                                      endpointId: e.id,
                                    })
                                    await revalidate(listEndpoints.key)
                                  })
                                }}
                              >
                                Delete
                              </button>
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
        <Show when={!readOnly()}>
          <form
            class="stack"
            aria-label="New webhook endpoint"
            onSubmit={(event) => {
              event.preventDefault()
              const form = event.currentTarget
              const d = new FormData(form)
              const chosen = d.getAll('eventTypes').map(String)
              void act.run('Endpoint added.', async () => {
                const created = await api.webhooks.create.mutate({
                  projectId: session.projectId(),
                  url: String(d.get('url')).trim(),
                  eventTypes: chosen as never,
                })
                setSecret({ url: created.endpoint.url, secret: created.secret })
                form.reset()
                await revalidate(listEndpoints.key)
              })
            }}
          >
            <input
              name="url"
              type="url"
              required
              maxLength={2048}
              placeholder="https://backend.example/e-stars-webhooks"
              aria-label="Endpoint URL"
            />
            <fieldset>
              <legend>Events (none chosen: all)</legend>
              <For each={eventTypes() ?? []}>
                {(type) => (
                  <label>
                    <input type="checkbox" name="eventTypes" value={type} /> {type}
                  </label>
                )}
              </For>
            </fieldset>
            <button type="submit" disabled={act.pending()}>
              Add endpoint
            </button>
          </form>
        </Show>
        <Outcome
          pending={act.pending()}
          error={act.error()}
          success={secret() ? null : act.done()}
        />
      </Section>
      <Show when={open()}>{(id) => <DeliveryLog endpointId={id()} readOnly={readOnly()} />}</Show>
    </div>
  )
}
