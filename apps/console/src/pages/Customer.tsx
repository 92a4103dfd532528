import {
  A,
  action,
  createAsync,
  json,
  query,
  revalidate,
  useAction,
  useParams,
  useSubmission,
} from '@solidjs/router'
import { createSignal, For, Show } from 'solid-js'
import { AdjustCredits } from '../components/AdjustCredits.tsx'
import { confirmDialog } from '../components/ConfirmDialog.tsx'
import { GrantAccess } from '../components/GrantAccess.tsx'
import { RefundButton } from '../components/RefundButton.tsx'
import { RefundFigures } from '../components/RefundFigures.tsx'
import { Section } from '../components/Section.tsx'
import { Empty, Outcome } from '../components/States.tsx'
import { Table } from '../components/Table.tsx'
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

/** Block (after the console's own confirmation) or unblock; null when the operator cancelled. */
const setBlocked = action(async (projectId: string, telegramUserId: number, blocked: boolean) => {
  if (
    blocked &&
    !(await confirmDialog({
      title: 'Block this customer?',
      body: 'They can neither buy nor consume until unblocked.',
      confirmLabel: 'Block',
      danger: true,
    }))
  )
    return null
  await api.operator.customers.setBlocked.mutate({ projectId, telegramUserId, blocked })
  return blocked ? 'Blocked.' : 'Unblocked.'
}, 'customer-block')

/** The next older page of the timeline; reading changes nothing, so nothing is refetched. */
const loadOlderEntries = action(
  async (projectId: string, telegramUserId: number, cursor: string) =>
    json(
      await api.operator.customers.timeline.query({ projectId, telegramUserId, cursor, limit: 50 }),
      { revalidate: 'nothing' },
    ),
  'timeline-older',
)

/** End an entitlement now, with the reason the console's dialog asks for. */
const revokeEntitlement = action(
  async (projectId: string, entitlement: { id: number; featureKey: string }) => {
    const reason = await confirmDialog({
      title: `End ${entitlement.featureKey} for this customer?`,
      body: 'The access ends now; the reason goes to the audit log.',
      confirmLabel: 'Revoke',
      danger: true,
      reason: { label: 'Reason' },
    })
    if (typeof reason !== 'string') return null
    await api.operator.customers.revokeEntitlement.mutate({
      projectId,
      entitlementId: entitlement.id,
      reason,
    })
    return `Ended ${entitlement.featureKey}.`
  },
  'entitlement-revoke',
)

export default function Customer() {
  const session = useSession()
  const params = useParams<{ telegramUserId: string }>()
  const id = () => Number(params.telegramUserId)
  const customer = createAsync(() => getCustomer(session.projectId(), id()))
  const balance = createAsync(() => getBalance(session.projectId(), id()))
  const timeline = createAsync(() => getTimeline(session.projectId(), id()))
  const quotas = createAsync(() => getQuotas(session.projectId(), id()))
  const blocking = useSubmission(setBlocked)
  const toggleBlocked = useAction(setBlocked)
  const revoking = useSubmission(revokeEntitlement)
  const revoke = useAction(revokeEntitlement)
  // Older pages of the timeline, loaded on demand.
  const [older, setOlder] = createSignal<TimelineEntry[]>([])
  const [olderCursor, setOlderCursor] = createSignal<string | null | undefined>(undefined)
  const loadingMore = useSubmission(loadOlderEntries)
  const loadOlder = useAction(loadOlderEntries)
  const nextCursor = () => (olderCursor() === undefined ? timeline()?.nextCursor : olderCursor())
  const loadMore = async () => {
    const cursor = nextCursor()
    if (!cursor) return
    const page = await loadOlder(session.projectId(), id(), cursor).catch(() => null)
    if (!page) return
    setOlder([...older(), ...page.entries])
    setOlderCursor(page.nextCursor)
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
                        disabled={blocking.pending}
                        onClick={() =>
                          void toggleBlocked(session.projectId(), id(), !c().blocked).catch(
                            () => {},
                          )
                        }
                      >
                        {c().blocked ? 'Unblock' : 'Block'}
                      </button>
                    </div>
                  </Show>
                </header>
                <Outcome pending={false} error={blocking.error} />
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
                        disabled={loadingMore.pending}
                        onClick={loadMore}
                      >
                        {loadingMore.pending ? 'Loading…' : 'Older entries'}
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
                  <Table
                    rows={b().lots}
                    label="Lots"
                    empty="No live lots."
                    columns={[
                      {
                        header: 'Source',
                        class: 'reason',
                        cell: (lot) => (
                          <>
                            <span class="clamp" title={lot.reason}>
                              {lot.reason}
                            </span>{' '}
                            <Show when={!lot.reason.toLowerCase().includes(lot.source)}>
                              <span class="muted">({lot.source})</span>
                            </Show>
                          </>
                        ),
                      },
                      {
                        header: 'Remaining',
                        class: 'num',
                        cell: (lot) =>
                          `${formatNumber(lot.remaining)} / ${formatNumber(lot.amount)}`,
                      },
                      {
                        header: 'Expires',
                        class: 'when',
                        cell: (lot) =>
                          lot.expiresAt ? formatDateTime(lot.expiresAt, tz()) : 'never',
                      },
                    ]}
                  />
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
                  <Table
                    rows={list()}
                    label="Quotas"
                    empty="No quota applies."
                    columns={[
                      {
                        header: 'Feature',
                        cell: (q) => (
                          <>
                            {q.featureName}{' '}
                            <span class="muted">
                              {q.free ? '(free allowance)' : `(per ${q.period})`}
                            </span>
                          </>
                        ),
                      },
                      {
                        header: 'Used',
                        class: 'num',
                        cellClass: (q) => q.remaining === 0 && 'warn',
                        cell: (q) => `${formatNumber(q.used)} / ${formatNumber(q.limit)}`,
                      },
                      {
                        header: 'Resets',
                        cell: (q) => (q.resetsAt ? formatRelative(q.resetsAt) : '—'),
                      },
                    ]}
                  />
                )}
              </Show>
            </Section>
            <Section title="Entitlements" retry={refreshCustomer}>
              <Outcome pending={false} error={revoking.error} />
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
                                disabled={revoking.pending}
                                onClick={() => void revoke(session.projectId(), e).catch(() => {})}
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
              <Table
                rows={[...c().payments].sort(byPaidAtDesc)}
                testId="payments"
                label="Payments"
                empty="No payments yet."
                columns={[
                  { header: 'Paid', class: 'when', cell: (p) => formatDateTime(p.paidAt, tz()) },
                  { header: 'Product', cell: (p) => productTitle(p.productKey) },
                  { header: 'Stars', class: 'num', cell: (p) => formatStars(p.amountStars) },
                  {
                    header: 'Status',
                    cell: (p) => (
                      <>
                        <span class={`badge ${p.status}`}>{p.status}</span>
                        <Show when={p.refundedAt}>
                          <div class="muted">
                            {p.refundedBy ? `by ${p.refundedBy}` : ''} {p.refundReason ?? ''}
                          </div>
                        </Show>
                      </>
                    ),
                  },
                  { header: 'Charge', class: 'mono small', cell: (p) => p.chargeId },
                  {
                    header: '',
                    cell: (p) => (
                      <Show when={p.status === 'paid' && session.isOwner()}>
                        <RefundButton payment={p} onDone={refreshCustomer} />
                      </Show>
                    ),
                  },
                ]}
              />
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
