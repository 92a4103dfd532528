import { createAsync, query, revalidate } from '@solidjs/router'
import { For, Show } from 'solid-js'
import { Section } from '../components/Section.tsx'
import { Table } from '../components/Table.tsx'
import { api } from '../lib/api.ts'
import { formatDateTime } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

const loadSummary = query(
  (projectId: string) => api.operator.treasury.summary.query({ projectId }),
  'treasury-summary',
)
const loadOutflows = query(
  (projectId: string) => api.operator.treasury.outflows.query({ projectId }),
  'treasury-outflows',
)

const NANO = 1_000_000_000n

/** Nanostars as exact decimal Stars, grouped: 1234500000000 → "1,234.5". */
export function starsOf(nanostars: number): string {
  const sign = nanostars < 0 ? '−' : ''
  const abs = BigInt(Math.abs(nanostars))
  const whole = (abs / NANO).toLocaleString('en-US')
  const frac = (abs % NANO).toString().padStart(9, '0').replace(/0+$/, '')
  return `${sign}${whole}${frac ? `.${frac}` : ''}`
}

/** What an outflow is, in words. */
function outflowWords(o: { partnerType: string; detail: string | null }) {
  switch (o.partnerType) {
    case 'fragment':
      return 'Withdrawal (Fragment)'
    case 'telegram_ads':
      return 'Telegram Ads'
    case 'telegram_api':
      return 'Paid broadcasts (Bot API)'
    case 'user':
      return o.detail === 'gift_purchase'
        ? 'Gift for a user'
        : o.detail === 'premium_purchase'
          ? 'Premium for a user'
          : o.detail === 'business_account_transfer'
            ? 'Business account transfer'
            : 'Refund to a user'
    default:
      return o.partnerType.replaceAll('_', ' ')
  }
}

export default function Treasury() {
  const session = useSession()
  const summary = createAsync(() => loadSummary(session.projectId()))
  const outflows = createAsync(() => loadOutflows(session.projectId()))
  const tz = () => session.timeZone()
  return (
    <div class="page">
      <header class="page-header">
        <h1>Treasury</h1>
      </header>
      <p class="muted">
        The bot's Stars as Telegram reports them, next to e-Stars' books: net revenue after
        affiliate commissions, minus withdrawals and spending. Outflows come from the last
        reconciliation run.
      </p>
      <Section title="Balance" retry={() => revalidate(loadSummary.key)}>
        <Show when={summary()}>
          {(t) => (
            <>
              <Show
                when={t().agrees}
                fallback={
                  <p class="badge danger" role="alert">
                    Telegram and e-Stars differ by {starsOf(t().differenceNanostars)} Stars
                  </p>
                }
              >
                <p class="badge">Telegram's balance agrees with e-Stars' books</p>
              </Show>
              <dl class="facts">
                <dt>Telegram's balance</dt>
                <dd>{starsOf(t().telegramBalanceNanostars)} Stars</dd>
                <dt>Gross revenue</dt>
                <dd>{starsOf(t().grossRevenueNanostars)}</dd>
                <dt>Affiliate commissions</dt>
                <dd>−{starsOf(t().commissionNanostars)}</dd>
                <dt>Net revenue</dt>
                <dd>{starsOf(t().netRevenueNanostars)}</dd>
                <dt>Other income (affiliate programs)</dt>
                <dd>{starsOf(t().otherIncomeNanostars)}</dd>
                <dt>Withdrawals (pending and done)</dt>
                <dd>−{starsOf(t().outflows.withdrawalsNanostars)}</dd>
                <dt>Telegram Ads</dt>
                <dd>−{starsOf(t().outflows.adsNanostars)}</dd>
                <dt>Paid broadcasts (API)</dt>
                <dd>−{starsOf(t().outflows.apiNanostars)}</dd>
                <dt>Gifts and Premium for users</dt>
                <dd>−{starsOf(t().outflows.giftsAndPremiumNanostars)}</dd>
                <dt>Other outflows</dt>
                <dd>−{starsOf(t().outflows.otherNanostars)}</dd>
                <dt>Expected balance</dt>
                <dd>{starsOf(t().expectedBalanceNanostars)} Stars</dd>
              </dl>
              <Show when={t().flags.length > 0}>
                <ul class="form-error">
                  <For each={t().flags}>{(flag) => <li>{flag}</li>}</For>
                </ul>
              </Show>
            </>
          )}
        </Show>
      </Section>
      <Section title="Withdrawals and outflows" retry={() => revalidate(loadOutflows.key)}>
        <Show when={outflows()}>
          {(list) => (
            <Table
              rows={list()}
              label="Withdrawals and outflows"
              empty="No Stars have left the bot yet."
              columns={[
                { header: 'When', class: 'when', cell: (o) => formatDateTime(o.occurredAt, tz()) },
                {
                  header: 'What',
                  cell: (o) => (
                    <>
                      {outflowWords(o)}
                      <Show when={o.flagged}>
                        <span class="badge warn">{o.flagged}</span>
                      </Show>
                    </>
                  ),
                },
                {
                  header: 'State',
                  cell: (o) => (
                    <Show when={o.withdrawalState} fallback="—">
                      <span
                        class={`badge ${o.withdrawalState === 'failed' ? 'danger' : o.withdrawalState === 'pending' ? 'warn' : ''}`}
                      >
                        {o.withdrawalState}
                      </span>
                    </Show>
                  ),
                },
                { header: 'Stars', class: 'num', cell: (o) => starsOf(o.nanostars) },
              ]}
            />
          )}
        </Show>
      </Section>
    </div>
  )
}
