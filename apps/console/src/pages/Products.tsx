import { action, createAsync, query, revalidate, useAction, useSubmission } from '@solidjs/router'
import { createEffect, createSignal, Show } from 'solid-js'
import { Section } from '../components/Section.tsx'
import { Outcome } from '../components/States.tsx'
import { Table } from '../components/Table.tsx'
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

/** Create a product, or change the terms of `editing` (its key and kind stay). */
const saveProduct = action(async (projectId: string, editing: string | null, d: FormData) => {
  const terms = {
    title: String(d.get('title')),
    description: String(d.get('description')),
    priceStars: Number(d.get('priceStars')),
    credits: Number(d.get('credits') || 0),
    creditsExpireDays: optionalNumber(d.get('creditsExpireDays')),
    featureKey: String(d.get('featureKey') || '') || null,
    durationDays: optionalNumber(d.get('durationDays')),
  }
  if (editing) {
    await api.operator.products.update.mutate({ projectId, key: editing, patch: terms })
    return `Saved ${editing}. Open invoices keep their price.`
  }
  await api.operator.products.create.mutate({
    projectId,
    key: String(d.get('key')),
    kind: String(d.get('kind')) as 'pack' | 'unlock' | 'subscription',
    ...terms,
  })
  return 'Product created.'
}, 'product-save')

const archiveProduct = action(async (projectId: string, key: string, archived: boolean) => {
  await api.operator.products.archive.mutate({ projectId, key, archived })
  return archived ? `Archived ${key}.` : `Restored ${key}.`
}, 'product-archive')

const defineFeature = action(async (projectId: string, d: FormData) => {
  await api.operator.features.define.mutate({
    projectId,
    key: String(d.get('key')),
    name: String(d.get('name')),
    kind: String(d.get('kind')) as 'metered' | 'gated',
    credits: Number(d.get('credits') || 0),
    perUnits: Number(d.get('perUnits') || 1),
  })
  return 'Feature saved.'
}, 'feature-define')

const archiveFeature = action(async (projectId: string, key: string) => {
  await api.operator.features.archive.mutate({ projectId, key })
  return `Archived ${key}.`
}, 'feature-archive')

export default function Products() {
  const session = useSession()
  const products = createAsync(() => listProducts(session.projectId()))
  const features = createAsync(() => listFeatures(session.projectId()))
  const [editing, setEditing] = createSignal<Product | null>(null)
  const saved = useSubmission(saveProduct)
  const archived = useSubmission(archiveProduct)
  const defined = useSubmission(defineFeature)
  const featureArchived = useSubmission(archiveFeature)
  const archive = useAction(archiveProduct)
  const archiveF = useAction(archiveFeature)
  let productForm: HTMLFormElement | undefined
  let featureForm: HTMLFormElement | undefined
  createEffect(() => {
    if (!saved.result) return
    productForm?.reset()
    setEditing(null)
  })
  createEffect(() => {
    if (defined.result) featureForm?.reset()
  })
  return (
    <div class="page">
      <header class="page-header">
        <h1>Products and features</h1>
      </header>
      <Section title="Products" retry={() => revalidate(listProducts.key)}>
        <Show when={products()}>
          {(list) => (
            <Table
              rows={list()}
              label="Products"
              empty="No products yet: create the first one below."
              rowProps={(p) => ({ classList: { archived: Boolean(p.archivedAt) } })}
              columns={[
                { header: 'Key', class: 'mono', cell: (p) => p.key },
                {
                  header: 'Title',
                  cell: (p) => (
                    <>
                      {p.title}
                      <Show when={p.archivedAt}>
                        <span class="badge">archived</span>
                      </Show>
                    </>
                  ),
                },
                { header: 'Kind', cell: (p) => p.kind },
                { header: 'Price', class: 'num', cell: (p) => formatStars(p.priceStars) },
                {
                  header: 'Grants',
                  cell: (p) =>
                    [
                      p.credits ? plural(p.credits, 'credit') : null,
                      p.featureKey
                        ? `${p.featureKey} ${p.kind === 'subscription' ? 'monthly' : p.durationDays ? plural(p.durationDays, 'day') : 'for life'}`
                        : null,
                    ]
                      .filter(Boolean)
                      .join(' + '),
                },
                {
                  header: '',
                  cell: (p) => (
                    <Show when={session.isOwner()}>
                      <div class="row end">
                        <button type="button" class="secondary small" onClick={() => setEditing(p)}>
                          Edit
                        </button>
                        <button
                          type="button"
                          class="secondary small"
                          disabled={archived.pending}
                          onClick={() =>
                            void archive(session.projectId(), p.key, !p.archivedAt).catch(() => {})
                          }
                        >
                          {p.archivedAt ? 'Restore' : 'Archive'}
                        </button>
                      </div>
                    </Show>
                  ),
                },
              ]}
            />
          )}
        </Show>
        <Outcome
          pending={Boolean(archived.pending)}
          error={archived.error}
          success={archived.result}
        />
      </Section>
      <Show when={session.isOwner()}>
        <Section
          title={editing() ? `Edit ${editing()!.key}` : 'New product'}
          retry={() => revalidate(listProducts.key)}
        >
          <form
            ref={productForm}
            class="stack"
            action={saveProduct.with(session.projectId(), editing()?.key ?? null)}
            method="post"
            aria-label="Product"
          >
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
              <button type="submit" disabled={saved.pending}>
                {editing() ? 'Save' : 'Create'}
              </button>
              <Show when={editing()}>
                <button type="button" class="secondary" onClick={() => setEditing(null)}>
                  Cancel
                </button>
              </Show>
            </div>
            <Outcome pending={Boolean(saved.pending)} error={saved.error} success={saved.result} />
          </form>
        </Section>
      </Show>
      <Section title="Features" retry={() => revalidate(listFeatures.key)}>
        <Show when={features()}>
          {(list) => (
            <Table
              rows={list()}
              label="Features"
              empty="No features defined."
              rowProps={(f) => ({ classList: { archived: Boolean(f.archivedAt) } })}
              columns={[
                { header: 'Key', class: 'mono', cell: (f) => f.key },
                {
                  header: 'Name',
                  cell: (f) => (
                    <>
                      {f.name}
                      <Show when={f.archivedAt}>
                        <span class="badge">archived</span>
                      </Show>
                    </>
                  ),
                },
                { header: 'Kind', cell: (f) => f.kind },
                {
                  header: 'Cost',
                  cell: (f) =>
                    f.kind === 'metered'
                      ? `${plural(f.credits, 'credit')} per ${plural(f.perUnits, 'unit')}`
                      : 'access',
                },
                {
                  header: '',
                  cell: (f) => (
                    <Show when={session.isOwner() && !f.archivedAt}>
                      <button
                        type="button"
                        class="secondary small"
                        disabled={featureArchived.pending}
                        onClick={() => void archiveF(session.projectId(), f.key).catch(() => {})}
                      >
                        Archive
                      </button>
                    </Show>
                  ),
                },
              ]}
            />
          )}
        </Show>
        <Outcome
          pending={Boolean(featureArchived.pending)}
          error={featureArchived.error}
          success={featureArchived.result}
        />
        <Show when={session.isOwner()}>
          <form
            ref={featureForm}
            class="row"
            aria-label="New feature"
            action={defineFeature.with(session.projectId())}
            method="post"
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
            <button type="submit" disabled={defined.pending}>
              Define
            </button>
          </form>
          <Outcome
            pending={Boolean(defined.pending)}
            error={defined.error}
            success={defined.result}
          />
        </Show>
      </Section>
    </div>
  )
}
