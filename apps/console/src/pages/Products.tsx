import { createAsync, query, revalidate } from '@solidjs/router'
import { createSignal, For, Show } from 'solid-js'
import { Section } from '../components/Section.tsx'
import { Empty, Outcome } from '../components/States.tsx'
import { api, type RouterOutputs } from '../lib/api.ts'
import { formatStars, plural } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

type Product = RouterOutputs['operator']['products']['list'][number]

const listProducts = query(
  (projectId: string) => api.operator.products.list.query({ projectId, includeArchived: true }),
  'products',
)
const listFeatures = query(
  (projectId: string) => api.operator.features.list.query({ projectId }),
  'features',
)

const optionalNumber = (v: FormDataEntryValue | null) => (v === null || v === '' ? null : Number(v))

export default function Products() {
  const session = useSession()
  const products = createAsync(() => listProducts(session.projectId()))
  const features = createAsync(() => listFeatures(session.projectId()))
  const [editing, setEditing] = createSignal<Product | null>(null)
  const [pending, setPending] = createSignal(false)
  const [error, setError] = createSignal<unknown>(null)
  const [done, setDone] = createSignal<string | null>(null)
  const run = async (label: string, act: () => Promise<unknown>) => {
    setPending(true)
    setError(null)
    setDone(null)
    try {
      await act()
      setDone(label)
      await revalidate([listProducts.key, listFeatures.key])
    } catch (e) {
      setError(e)
    } finally {
      setPending(false)
    }
  }
  const save = (event: SubmitEvent) => {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const d = new FormData(form)
    const terms = {
      title: String(d.get('title')),
      description: String(d.get('description')),
      priceStars: Number(d.get('priceStars')),
      credits: Number(d.get('credits') || 0),
      creditsExpireDays: optionalNumber(d.get('creditsExpireDays')),
      featureKey: String(d.get('featureKey') || '') || null,
      durationDays: optionalNumber(d.get('durationDays')),
    }
    const current = editing()
    void run(
      current ? `Saved ${current.key}. Open invoices keep their price.` : 'Product created.',
      async () => {
        if (current)
          await api.operator.products.update.mutate({
            projectId: session.projectId(),
            key: current.key,
            patch: terms,
          })
        else
          await api.operator.products.create.mutate({
            projectId: session.projectId(),
            key: String(d.get('key')),
            kind: String(d.get('kind')) as 'pack' | 'unlock' | 'subscription',
            ...terms,
          })
        form.reset()
        setEditing(null)
      },
    )
  }
  return (
    <div class="page">
      <header class="page-header">
        <h1>Products and features</h1>
      </header>
      <Section title="Products" retry={() => revalidate(listProducts.key)}>
        <Show when={products()}>
          {(list) => (
            <Show
              when={list().length > 0}
              fallback={<Empty>No products yet: create the first one below.</Empty>}
            >
              <div class="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th>Key</th>
                      <th>Title</th>
                      <th>Kind</th>
                      <th class="num">Price</th>
                      <th>Grants</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    <For each={list()}>
                      {(p) => (
                        <tr classList={{ archived: Boolean(p.archivedAt) }}>
                          <td class="mono">{p.key}</td>
                          <td>
                            {p.title}
                            <Show when={p.archivedAt}>
                              <span class="badge">archived</span>
                            </Show>
                          </td>
                          <td>{p.kind}</td>
                          <td class="num">{formatStars(p.priceStars)}</td>
                          <td>
                            {[
                              p.credits ? plural(p.credits, 'credit') : null,
                              p.featureKey
                                ? `${p.featureKey} ${p.kind === 'subscription' ? 'monthly' : p.durationDays ? plural(p.durationDays, 'day') : 'for life'}`
                                : null,
                            ]
                              .filter(Boolean)
                              .join(' + ')}
                          </td>
                          <td class="row end">
                            <Show when={session.isOwner()}>
                              <button
                                type="button"
                                class="secondary small"
                                onClick={() => setEditing(p)}
                              >
                                Edit
                              </button>
                              <button
                                type="button"
                                class="secondary small"
                                onClick={() =>
                                  run(
                                    p.archivedAt ? `Restored ${p.key}.` : `Archived ${p.key}.`,
                                    () =>
                                      api.operator.products.archive.mutate({
                                        projectId: session.projectId(),
                                        key: p.key,
                                        archived: !p.archivedAt,
                                      }),
                                  )
                                }
                              >
                                {p.archivedAt ? 'Restore' : 'Archive'}
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
      </Section>
      <Show when={session.isOwner()}>
        <Section
          title={editing() ? `Edit ${editing()!.key}` : 'New product'}
          retry={() => revalidate(listProducts.key)}
        >
          <form class="stack" onSubmit={save} aria-label="Product">
            <Show when={!editing()}>
              <div class="row">
                <label>
                  Key
                  <input
                    name="key"
                    required
                    pattern="[a-z0-9][a-z0-9_.\-]{0,63}"
                    placeholder="pack_m"
                  />
                </label>
                <label>
                  Kind
                  <select name="kind">
                    <option value="pack">Credit pack</option>
                    <option value="unlock">Unlock</option>
                    <option value="subscription">Subscription (30 days)</option>
                  </select>
                </label>
              </div>
            </Show>
            <div class="row">
              <label>
                Title
                <input name="title" required maxLength={32} value={editing()?.title ?? ''} />
              </label>
              <label>
                Price (Stars)
                <input
                  name="priceStars"
                  type="number"
                  min="1"
                  required
                  value={editing()?.priceStars ?? ''}
                />
              </label>
            </div>
            <label>
              Description
              <input
                name="description"
                required
                maxLength={255}
                value={editing()?.description ?? ''}
              />
            </label>
            <div class="row">
              <label>
                Credits
                <input name="credits" type="number" min="0" value={editing()?.credits ?? 0} />
              </label>
              <label>
                Credits expire after (days)
                <input
                  name="creditsExpireDays"
                  type="number"
                  min="1"
                  value={editing()?.creditsExpireDays ?? ''}
                />
              </label>
              <label>
                Feature
                <input name="featureKey" value={editing()?.featureKey ?? ''} placeholder="pro" />
              </label>
              <label>
                Access (days, empty = life)
                <input
                  name="durationDays"
                  type="number"
                  min="1"
                  value={editing()?.durationDays ?? ''}
                />
              </label>
            </div>
            <div class="row">
              <button type="submit" disabled={pending()}>
                {editing() ? 'Save' : 'Create'}
              </button>
              <Show when={editing()}>
                <button type="button" class="secondary" onClick={() => setEditing(null)}>
                  Cancel
                </button>
              </Show>
            </div>
            <Outcome pending={pending()} error={error()} success={done()} />
          </form>
        </Section>
      </Show>
      <Section title="Features" retry={() => revalidate(listFeatures.key)}>
        <Show when={features()}>
          {(list) => (
            <Show when={list().length > 0} fallback={<Empty>No features defined.</Empty>}>
              <div class="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th>Key</th>
                      <th>Name</th>
                      <th>Kind</th>
                      <th>Cost</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    <For each={list()}>
                      {(f) => (
                        <tr classList={{ archived: Boolean(f.archivedAt) }}>
                          <td class="mono">{f.key}</td>
                          <td>
                            {f.name}
                            <Show when={f.archivedAt}>
                              <span class="badge">archived</span>
                            </Show>
                          </td>
                          <td>{f.kind}</td>
                          <td>
                            {f.kind === 'metered'
                              ? `${plural(f.credits, 'credit')} per ${plural(f.perUnits, 'unit')}`
                              : 'access'}
                          </td>
                          <td>
                            <Show when={session.isOwner() && !f.archivedAt}>
                              <button
                                type="button"
                                class="secondary small"
                                onClick={() =>
                                  run(`Archived ${f.key}.`, () =>
                                    api.operator.features.archive.mutate({
                                      projectId: session.projectId(),
                                      key: f.key,
                                    }),
                                  )
                                }
                              >
                                Archive
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
        <Show when={session.isOwner()}>
          <form
            class="row"
            aria-label="New feature"
            onSubmit={(event) => {
              event.preventDefault()
              const form = event.currentTarget
              const d = new FormData(form)
              void run('Feature saved.', async () => {
                await api.operator.features.define.mutate({
                  projectId: session.projectId(),
                  key: String(d.get('key')),
                  name: String(d.get('name')),
                  kind: String(d.get('kind')) as 'metered' | 'gated',
                  credits: Number(d.get('credits') || 0),
                  perUnits: Number(d.get('perUnits') || 1),
                })
                form.reset()
              })
            }}
          >
            <label>
              Key
              <input name="key" required placeholder="ai.tokens" />
            </label>
            <label>
              Name
              <input name="name" required />
            </label>
            <label>
              Kind
              <select name="kind">
                <option value="metered">Metered</option>
                <option value="gated">Gated</option>
              </select>
            </label>
            <label>
              Credits
              <input name="credits" type="number" min="0" value="1" />
            </label>
            <label>
              per units
              <input name="perUnits" type="number" min="1" value="1" />
            </label>
            <button type="submit" disabled={pending()}>
              Define
            </button>
          </form>
        </Show>
      </Section>
    </div>
  )
}
