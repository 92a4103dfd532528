import { A, createAsync, query, revalidate, useParams } from '@solidjs/router'
import { createSignal, For, Show } from 'solid-js'
import { AdjustCredits } from '../components/AdjustCredits.tsx'
import { confirmDialog } from '../components/ConfirmDialog.tsx'
import { GrantAccess } from '../components/GrantAccess.tsx'
import { RefundButton } from '../components/RefundButton.tsx'
import { RefundFigures } from '../components/RefundFigures.tsx'
import { Section } from '../components/Section.tsx'
import { Empty, Outcome } from '../components/States.tsx'
import { api, errorInfo, type RouterOutputs } from '../lib/api.ts'
import {
  customerName,
  formatDateTime,
  formatNumber,
  formatRelative,
  formatStars,
  plural,
} from '../lib/format.ts'
import { byPaidAtDesc, useProductTitle } from '../lib/products.ts'
import { useSession } from '../lib/session.tsx'
import { CustomerSubscriptions } from './CustomerSubscriptions.tsx'

/** The customer, or null when the project has no such customer (one not-found page, no panels). */
export const getCustomer = query(async (projectId: string, telegramUserId: number) => {
  if (!Number.isSafeInteger(telegramUserId) || telegramUserId <= 0) return null
  try {
    return await api.operator.customers.detail.query({ projectId, telegramUserId })
  } catch (error) {
    if (errorInfo(error).code === 'NOT_FOUND') return null
    throw error
  }
}, 'customer')
export const getBalance = query(
  (projectId: string, telegramUserId: number) =>
    api.operator.customers.balance.query({ projectId, telegramUserId }),
  'customer-balance',
)
export const getQuotas = query(
  (projectId: string, telegramUserId: number) =>
    api.operator.customers.quotas.query({ projectId, telegramUserId }),
  'customer-quotas',
)
export const getTimeline = query(
  (projectId: string, telegramUserId: number) =>
    api.operator.customers.timeline.query({ projectId, telegramUserId, limit: 50 }),
  'customer-timeline',
)

type TimelineEntry = RouterOutputs['operator']['customers']['timeline']['entries'][number]

export const refreshCustomer = () => revalidate([getCustomer.key, getBalance.key, getTimeline.key])

export default function Customer() {
  const session = useSession()
  const params = useParams<{ telegramUserId: string }>()
  const id = () => Number(params.telegramUserId)
  const customer = createAsync(() => getCustomer(session.projectId(), id()))
  const balance = createAsync(() => getBalance(session.projectId(), id()))
  const timeline = createAsync(() => getTimeline(session.projectId(), id()))
  const quotas = createAsync(() => getQuotas(session.projectId(), id()))
  const [blocking, setBlocking] = createSignal(false)
  const [blockError, setBlockError] = createSignal<unknown>(null)
  const [revokeError, setRevokeError] = createSignal<unknown>(null)
  const toggleBlocked = async (blocked: boolean) => {
    if (
      blocked &&
      !(await confirmDialog({
        title: 'Block this customer?',
        body: 'They can neither buy nor consume until unblocked.',
        confirmLabel: 'Block',
        danger: true,
      }))
    )
      return
    setBlocking(true)
    setBlockError(null)
    try {
      await api.operator.customers.setBlocked.mutate({
        projectId: session.projectId(),
        telegramUserId: id(),
        blocked,
      })
      await refreshCustomer()
    } catch (e) {
      setBlockError(e)
    } finally {
      setBlocking(false)
    }
  }
  // Older pages of the timeline, loaded on demand.
  const [older, setOlder] = createSignal<TimelineEntry[]>([])
  const [olderCursor, setOlderCursor] = createSignal<string | null | undefined>(undefined)
  const [loadingMore, setLoadingMore] = createSignal(false)
  const nextCursor = () => (olderCursor() === undefined ? timeline()?.nextCursor : olderCursor())
  const loadMore = async () => {
    const cursor = nextCursor()
    if (!cursor) return
    setLoadingMore(true)
    try {
      const page = await api.operator.customers.timeline.query({
        projectId: session.projectId(),
        telegramUserId: id(),
        cursor,
        limit: 50,
      })
      setOlder([...older(), ...page.entries])
      setOlderCursor(page.nextCursor)
    } finally {
      setLoadingMore(false)
    }
  }
  const tz = () => session.timeZone()
  const productTitle = useProductTitle()
  return (
    <Show when={customer() !== null} fallback={<MissingCustomer id={params.telegramUserId} />}>
      <div class="page">
        <p class="crumbs">
          <A href="/customers">Customers</A> ›
        </p>
        <Section retry={refreshCustomer} class="plain">
          <Show when={customer()}>
            {(c) => (
              <>
                <header class="page-header">
                  <div>
                    <h1>
                      {customerName(c())}{' '}
                      <Show when={c().blocked}>
                        <span class="badge danger">blocked</span>
                      </Show>
                    </h1>
                    <p class="muted">
                      <Show when={c().username}>@{c().username} · </Show>
                      Telegram id <span class="mono">{c().telegramUserId}</span> · customer since{' '}
                      {formatDateTime(c().createdAt, tz())} · last active{' '}
                      {formatRelative(c().lastActiveAt)}
                    </p>
                  </div>
                  <Show when={session.isOwner()}>
                    <div class="row">
                      <button
                        type="button"
                        class={c().blocked ? 'secondary' : 'danger'}
                        disabled={blocking()}
                        onClick={() => toggleBlocked(!c().blocked)}
                      >
                        {c().blocked ? 'Unblock' : 'Block'}
                      </button>
                    </div>
                  </Show>
                </header>
                <Outcome pending={false} error={blockError()} />
                <div class="metrics">
                  <div class="metric card">
                    <div class="metric-label">Available</div>
                    <div class="metric-value" data-testid="available">
                      {formatNumber(balance()?.available ?? c().available)}
                    </div>
                  </div>
                  <div class="metric card">
                    <div class="metric-label">Held</div>
                    <div class="metric-value">{formatNumber(balance()?.held ?? c().held)}</div>
                  </div>
                  <div class="metric card">
                    <div class="metric-label">Debt</div>
                    <div class="metric-value" classList={{ warn: c().debt > 0 }} data-testid="debt">
                      {formatNumber(c().debt)}
                    </div>
                  </div>
                  <div class="metric card">
                    <div class="metric-label">Lifetime</div>
                    <div class="metric-value">{formatStars(c().lifetimeStars)}</div>
                    <div class="muted">{plural(c().paymentsCount, 'payment')}</div>
                  </div>
                  <RefundFigures telegramUserId={c().telegramUserId} />
                </div>
              </>
            )}
          </Show>
        </Section>
        <div class="columns">
          <div>
            <Section title="Timeline" retry={refreshCustomer}>
              <Show when={timeline()}>
                {(page) => (
                  <Show
                    when={page().entries.length > 0}
                    fallback={<Empty>No ledger entries yet.</Empty>}
                  >
                    <ol class="timeline" data-testid="timeline">
                      <For each={[...page().entries, ...older()]}>
                        {(e) => (
                          <li class={`entry ${e.tone}`}>
                            <span class="entry-text">{e.text}</span>
                            <span class="entry-meta">
                              {formatDateTime(e.createdAt, tz())} · balance{' '}
                              {formatNumber(e.availableAfter)}
                              <Show when={e.debtAfter > 0}>
                                {' '}
                                · debt {formatNumber(e.debtAfter)}
                              </Show>
                            </span>
                          </li>
                        )}
                      </For>
                    </ol>
                    <Show when={nextCursor()}>
                      <button
                        type="button"
                        class="secondary"
                        disabled={loadingMore()}
                        onClick={loadMore}
                      >
                        {loadingMore() ? 'Loading…' : 'Older entries'}
                      </button>
                    </Show>
                  </Show>
                )}
              </Show>
            </Section>
          </div>
          <div>
            <Show when={session.isOwner()}>
              <Section title="Grant or adjust credits" retry={refreshCustomer}>
                <AdjustCredits telegramUserId={id()} />
              </Section>
            </Show>
            <Section title="Lots" retry={refreshCustomer}>
              <Show when={balance()}>
                {(b) => (
                  <Show when={b().lots.length > 0} fallback={<Empty>No live lots.</Empty>}>
                    <div class="table-scroll">
                      <table>
                        <thead>
                          <tr>
                            <th>Source</th>
                            <th class="num">Remaining</th>
                            <th>Expires</th>
                          </tr>
                        </thead>
                        <tbody>
                          <For each={b().lots}>
                            {(lot) => (
                              <tr>
                                <td class="reason">
                                  {lot.reason}{' '}
                                  <Show when={!lot.reason.toLowerCase().includes(lot.source)}>
                                    <span class="muted">({lot.source})</span>
                                  </Show>
                                </td>
                                <td class="num">
                                  {formatNumber(lot.remaining)} / {formatNumber(lot.amount)}
                                </td>
                                <td>
                                  {lot.expiresAt ? formatDateTime(lot.expiresAt, tz()) : 'never'}
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
            <Section title="Holds" retry={refreshCustomer}>
              <Show when={balance()}>
                {(b) => (
                  <Show when={b().holds.length > 0} fallback={<Empty>No open holds.</Empty>}>
                    <ul class="plain-list">
                      <For each={b().holds}>
                        {(h) => (
                          <li>
                            {formatNumber(h.amount)} held: {h.reason}{' '}
                            <span class="muted">expires {formatRelative(h.expiresAt)}</span>
                          </li>
                        )}
                      </For>
                    </ul>
                  </Show>
                )}
              </Show>
            </Section>
            <Section title="Quotas" retry={refreshCustomer}>
              <Show when={quotas()}>
                {(list) => (
                  <Show when={list().length > 0} fallback={<Empty>No quota applies.</Empty>}>
                    <div class="table-scroll">
                      <table>
                        <thead>
                          <tr>
                            <th>Feature</th>
                            <th class="num">Used</th>
                            <th>Resets</th>
                          </tr>
                        </thead>
                        <tbody>
                          <For each={list()}>
                            {(q) => (
                              <tr>
                                <td>
                                  {q.featureName}{' '}
                                  <span class="muted">
                                    {q.free ? '(free allowance)' : `(per ${q.period})`}
                                  </span>
                                </td>
                                <td class="num" classList={{ warn: q.remaining === 0 }}>
                                  {formatNumber(q.used)} / {formatNumber(q.limit)}
                                </td>
                                <td>{q.resetsAt ? formatRelative(q.resetsAt) : '—'}</td>
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
            <Section title="Entitlements" retry={refreshCustomer}>
              <Outcome pending={false} error={revokeError()} />
              <Show when={session.isOwner()}>
                <GrantAccess telegramUserId={id()} />
              </Show>
              <Show when={customer()}>
                {(c) => (
                  <Show
                    when={c().entitlements.length > 0}
                    fallback={<Empty>No entitlements in force.</Empty>}
                  >
                    <ul class="plain-list">
                      <For each={c().entitlements}>
                        {(e) => (
                          <li>
                            <span class="mono">{e.featureKey}</span> ({e.source}){' '}
                            <span class="muted">
                              {e.endsAt ? `until ${formatDateTime(e.endsAt, tz())}` : 'for life'}
                              {e.active ? '' : ' · starts later'}
                            </span>{' '}
                            <Show when={session.isOwner()}>
                              <button
                                type="button"
                                class="secondary small"
                                onClick={async () => {
                                  const reason = await confirmDialog({
                                    title: `End ${e.featureKey} for this customer?`,
                                    body: 'The access ends now; the reason goes to the audit log.',
                                    confirmLabel: 'Revoke',
                                    danger: true,
                                    reason: { label: 'Reason' },
                                  })
                                  if (typeof reason !== 'string') return
                                  setRevokeError(null)
                                  await api.operator.customers.revokeEntitlement
                                    .mutate({
                                      projectId: session.projectId(),
                                      entitlementId: e.id,
                                      reason,
                                    })
                                    .then(refreshCustomer, setRevokeError)
                                }}
                              >
                                Revoke
                              </button>
                            </Show>
                          </li>
                        )}
                      </For>
                    </ul>
                  </Show>
                )}
              </Show>
            </Section>
          </div>
        </div>
        <CustomerSubscriptions telegramUserId={id()} />
        <Section title="Payments" retry={refreshCustomer}>
          <Show when={customer()}>
            {(c) => (
              <Show when={c().payments.length > 0} fallback={<Empty>No payments yet.</Empty>}>
                <div class="table-scroll">
                  <table data-testid="payments">
                    <thead>
                      <tr>
                        <th>Paid</th>
                        <th>Product</th>
                        <th class="num">Stars</th>
                        <th>Status</th>
                        <th>Charge</th>
                        <th />
                      </tr>
                    </thead>
                    <tbody>
                      <For each={[...c().payments].sort(byPaidAtDesc)}>
                        {(p) => (
                          <tr>
                            <td>{formatDateTime(p.paidAt, tz())}</td>
                            <td>{productTitle(p.productKey)}</td>
                            <td class="num">{formatStars(p.amountStars)}</td>
                            <td>
                              <span class={`badge ${p.status}`}>{p.status}</span>
                              <Show when={p.refundedAt}>
                                <div class="muted">
                                  {p.refundedBy ? `by ${p.refundedBy}` : ''} {p.refundReason ?? ''}
                                </div>
                              </Show>
                            </td>
                            <td class="mono small">{p.chargeId}</td>
                            <td>
                              <Show when={p.status === 'paid' && session.isOwner()}>
                                <RefundButton payment={p} onDone={refreshCustomer} />
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
      </div>
    </Show>
  )
}

function MissingCustomer(props: { id: string }) {
  return (
    <div class="page" data-testid="customer-not-found">
      <p class="crumbs">
        <A href="/customers">Customers</A> ›
      </p>
      <h1>No such customer</h1>
      <p>
        This project has no customer with Telegram id <span class="mono">{props.id}</span>. A
        customer appears once the bot has seen them. <A href="/customers">Search the customers</A>
      </p>
    </div>
  )
}
