import { createAsync, query, revalidate } from '@solidjs/router'
import { For, Show } from 'solid-js'
import { Section } from '../components/Section.tsx'
import { Empty } from '../components/States.tsx'
import { api } from '../lib/api.ts'
import { formatDateTime } from '../lib/format.ts'
import { useProductTitle } from '../lib/products.ts'
import { useSession } from '../lib/session.tsx'

const loadSubscriptions = query(
  (projectId: string, telegramUserId: number) =>
    api.operator.treasury.subscriptions.query({ projectId, telegramUserId }),
  'customer-subscriptions',
)

const STATE_WORDS: Record<string, string> = {
  active: 'renews',
  canceled: 'canceled — runs to the period end',
  failed: 'renewal failed — grace period',
}
const SOURCE_WORDS: Record<string, string> = {
  telegram: 'by the user in Telegram',
  operator: 'by an operator',
  refund: 'after a refund',
  block: 'after a block',
  reconciliation: 'by reconciliation',
}

/** A customer's subscriptions: renewal state, when access ends, and every state change. */
export function CustomerSubscriptions(props: { telegramUserId: number }) {
  const session = useSession()
  const list = createAsync(() => loadSubscriptions(session.projectId(), props.telegramUserId))
  const tz = () => session.timeZone()
  const productTitle = useProductTitle()
  return (
    <Section title="Subscriptions" retry={() => revalidate(loadSubscriptions.key)}>
      <Show when={list()}>
        {(subs) => (
          <Show when={subs().length > 0} fallback={<Empty>No subscriptions.</Empty>}>
            <For each={subs()}>
              {(s) => (
                <div class="subscription">
                  <p>
                    <strong>{productTitle(s.productKey)}</strong>{' '}
                    <span class={`badge ${s.renewalState === 'active' ? '' : 'warn'}`}>
                      {STATE_WORDS[s.renewalState] ?? s.renewalState}
                    </span>{' '}
                    <span class={`badge ${s.active ? '' : 'danger'}`}>
                      {s.active ? 'access' : s.status}
                    </span>
                  </p>
                  <p class="muted small">
                    Paid period ends {formatDateTime(s.currentPeriodEnd, tz())}; access ends{' '}
                    {formatDateTime(s.accessEndsAt, tz())}
                  </p>
                  <Show when={s.history.length > 0}>
                    <ul class="small">
                      <For each={s.history}>
                        {(h) => (
                          <li>
                            {formatDateTime(h.occurredAt, tz())}: {h.state}{' '}
                            {SOURCE_WORDS[h.source] ?? h.source}
                          </li>
                        )}
                      </For>
                    </ul>
                  </Show>
                </div>
              )}
            </For>
          </Show>
        )}
      </Show>
    </Section>
  )
}
