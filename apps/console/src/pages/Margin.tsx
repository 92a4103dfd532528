import { createAsync, query, revalidate, useSearchParams } from '@solidjs/router'
import { createSignal, For, Show } from 'solid-js'
import { formatPercent, formatUsd, MarginChart } from '../components/MarginChart.tsx'
import { CostCaps, getCaps } from '../components/margin/CostCaps.tsx'
import { FeatureFloors, getFeatureFloors } from '../components/margin/FeatureFloors.tsx'
import { getMarginSettings, MarginSettingsForm } from '../components/margin/MarginSettingsForm.tsx'
import { getPrices, PriceBook } from '../components/margin/PriceBook.tsx'
import { Section } from '../components/Section.tsx'
import { Empty, Outcome } from '../components/States.tsx'
import { api, type RouterOutputs } from '../lib/api.ts'
import { formatNumber } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

type Dimension = 'day' | 'feature' | 'model' | 'product' | 'customer'
type Row = RouterOutputs['margin']['breakdown'][number]

/** The periods the page offers, in days back from now; 30 is the API's own default. */
const PERIODS = [7, 30, 90] as const
type Days = (typeof PERIODS)[number]
const DAY_MS = 86_400_000
/** The last `days` days, ending now (the API's `from` ≤ t < `to`). */
const periodOf = (days: Days) => {
  const to = new Date()
  return { from: new Date(to.getTime() - days * DAY_MS).toISOString(), to: to.toISOString() }
}

const getSummary = query(
  (projectId: string, days: Days) => api.margin.summary.query({ projectId, ...periodOf(days) }),
  'margin-summary',
)
const getBreakdown = query(
  (projectId: string, days: Days, by: Dimension) =>
    api.margin.breakdown.query({ projectId, by, ...periodOf(days) }),
  'margin-breakdown',
)
const getUnprofitable = query(
  (projectId: string, days: Days) =>
    api.margin.unprofitableCustomers.query({ projectId, ...periodOf(days) }),
  'margin-unprofitable',
)
const getRefunders = query(
  (projectId: string) => api.refundAbuse.customers.query({ projectId, limit: 20 }),
  'margin-refunders',
)

const retry = () =>
  revalidate([
    getSummary.key,
    getBreakdown.key,
    getUnprofitable.key,
    getRefunders.key,
    getPrices.key,
    getCaps.key,
    getMarginSettings.key,
    getFeatureFloors.key,
  ])

/** Saves the API's CSV as a file: the text is the API's, byte for byte. */
async function downloadCsv(projectId: string, days: Days, by: Dimension) {
  const { filename, csv } = await api.margin.csv.query({ projectId, by, ...periodOf(days) })
  const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }))
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  a.click()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

function MarginTable(props: { rows: Row[]; label: string; testid: string; days: Days }) {
  return (
    <Show
      when={props.rows.length > 0}
      fallback={<Empty>Nothing metered in these {props.days} days.</Empty>}
    >
      <div class="table-scroll">
        <table data-testid={props.testid}>
          <thead>
            <tr>
              <th>{props.label}</th>
              <th class="num">Revenue</th>
              <th class="num">Cost</th>
              <th class="num">Margin</th>
              <th class="num">Margin %</th>
              <th class="num">Calls</th>
            </tr>
          </thead>
          <tbody>
            <For each={props.rows}>
              {(r) => (
                <tr data-key={r.key} classList={{ warn: r.marginMicros < 0 }}>
                  <td>{r.key}</td>
                  <td class="num" data-field="revenue">
                    {formatUsd(r.revenueMicros)}
                  </td>
                  <td class="num" data-field="cost">
                    {formatUsd(r.costMicros)}
                  </td>
                  <td class="num" data-field="margin">
                    {formatUsd(r.marginMicros)}
                  </td>
                  <td class="num">{formatPercent(r.marginPercent)}</td>
                  <td class="num">{formatNumber(r.acts)}</td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
    </Show>
  )
}

/**
 * Margin: what the chosen period (7, 30 or 90 days; `?days=` in the address) earned (the value of the credits burned), what the answers cost
 * (the usage records), and the gap, per day, feature, model, product and customer. Figures are
 * the API's, to the micro-dollar; CSV downloads are the API's text. Below them, the controls:
 * the price book, cost caps, feature margin floors and the margin settings (owners change them).
 */
export default function Margin() {
  const session = useSession()
  const [params, setParams] = useSearchParams<{ days?: string }>()
  const period = (): Days => PERIODS.find((d) => String(d) === params.days) ?? 30
  const [by, setBy] = createSignal<Dimension>('feature')
  const [csvError, setCsvError] = createSignal<unknown>(null)
  const summary = createAsync(() => getSummary(session.projectId(), period()))
  const days = createAsync(() => getBreakdown(session.projectId(), period(), 'day'))
  const rows = createAsync(() => getBreakdown(session.projectId(), period(), by()))
  const unprofitable = createAsync(() => getUnprofitable(session.projectId(), period()))
  const refunders = createAsync(() => getRefunders(session.projectId()))
  return (
    <div class="page" data-testid="margin-page">
      <header class="page-header">
        <h1>Margin</h1>
        <fieldset class="segmented" aria-label="Period" data-testid="margin-period">
          <For each={PERIODS}>
            {(d) => (
              <button
                type="button"
                classList={{ selected: period() === d }}
                aria-pressed={period() === d}
                data-days={d}
                onClick={() => setParams({ days: d === 30 ? undefined : String(d) })}
              >
                {d} days
              </button>
            )}
          </For>
        </fieldset>
      </header>
      <Section retry={retry}>
        <Show when={summary()}>
          {(s) => (
            <>
              <div class="metrics">
                <div class="metric card">
                  <div class="metric-label">Revenue</div>
                  <div class="metric-value" data-testid="margin-revenue">
                    {formatUsd(s().revenueMicros)}
                  </div>
                </div>
                <div class="metric card">
                  <div class="metric-label">Cost</div>
                  <div class="metric-value" data-testid="margin-cost">
                    {formatUsd(s().costMicros)}
                  </div>
                </div>
                <div class="metric card">
                  <div class="metric-label">Gross margin</div>
                  <div
                    class="metric-value"
                    classList={{ warn: s().marginMicros < 0 }}
                    data-testid="margin-margin"
                  >
                    {formatUsd(s().marginMicros)}
                  </div>
                  <div class="muted" data-testid="margin-percent">
                    {formatPercent(s().marginPercent)}
                  </div>
                </div>
                <div class="metric card">
                  <div class="metric-label">Cost of free usage</div>
                  <div class="metric-value" data-testid="margin-free-cost">
                    {formatUsd(s().freeCostMicros)}
                  </div>
                  <div class="muted">{formatNumber(s().unpricedActs)} calls on unpriced models</div>
                </div>
              </div>
              <Show when={s().rateIsAssumption}>
                <p class="muted" data-testid="rate-assumption">
                  Revenue assumes 0.013 USD per Star (the widely reported payout rate) until you set
                  your own rate.
                </p>
              </Show>
            </>
          )}
        </Show>
      </Section>
      <Section title="Revenue and cost per day" retry={retry}>
        <Show
          when={(days() ?? []).length > 0}
          fallback={<Empty>No metered calls in these {period()} days.</Empty>}
        >
          <MarginChart days={days() ?? []} />
          <p class="muted">
            <span style={{ color: '#2f855a' }}>■</span> revenue{' '}
            <span style={{ color: '#c05621' }}>■</span> cost
          </p>
        </Show>
      </Section>
      <Section
        title="Breakdown"
        retry={retry}
        actions={
          <div class="row">
            <select
              aria-label="Group by"
              data-testid="margin-by"
              value={by()}
              onChange={(e) => setBy(e.currentTarget.value as Dimension)}
            >
              <For each={['feature', 'model', 'product', 'customer', 'day'] as const}>
                {(d) => <option value={d}>By {d}</option>}
              </For>
            </select>
            <button
              type="button"
              class="secondary"
              data-testid="margin-csv"
              onClick={() => {
                setCsvError(null)
                downloadCsv(session.projectId(), period(), by()).catch(setCsvError)
              }}
            >
              Download CSV
            </button>
          </div>
        }
      >
        <Outcome pending={false} error={csvError()} />
        <MarginTable rows={rows() ?? []} label={by()} testid="margin-breakdown" days={period()} />
      </Section>
      <div class="columns">
        <Section title="Customers costing more than they pay" retry={retry}>
          <MarginTable
            rows={unprofitable() ?? []}
            label="Telegram user"
            testid="margin-unprofitable"
            days={period()}
          />
        </Section>
        <Section title="Customers by refund rate" retry={retry}>
          <Show when={(refunders() ?? []).length > 0} fallback={<Empty>No refunds.</Empty>}>
            <div class="table-scroll">
              <table data-testid="refund-rates">
                <thead>
                  <tr>
                    <th>Customer</th>
                    <th class="num">Refunds</th>
                    <th class="num">Rate</th>
                    <th class="num">Debt</th>
                  </tr>
                </thead>
                <tbody>
                  <For each={refunders()}>
                    {(c) => (
                      <tr>
                        <td>
                          <a href={`/customers/${c.telegramUserId}`}>
                            {c.username ? `@${c.username}` : c.telegramUserId}
                          </a>
                          <Show when={c.blocked}> · blocked</Show>
                        </td>
                        <td class="num">
                          {formatNumber(c.refunds)} / {formatNumber(c.payments)}
                        </td>
                        <td class="num">{formatNumber(Math.round(c.refundRate * 100))} %</td>
                        <td class="num">{formatNumber(c.debt)}</td>
                      </tr>
                    )}
                  </For>
                </tbody>
              </table>
            </div>
          </Show>
        </Section>
      </div>
      <h2 class="page-subtitle">Controls</h2>
      <div class="columns">
        <Section title="Price book" retry={retry}>
          <PriceBook projectId={session.projectId()} owner={session.isOwner()} />
        </Section>
        <Section title="Cost caps" retry={retry}>
          <CostCaps projectId={session.projectId()} owner={session.isOwner()} />
        </Section>
      </div>
      <div class="columns">
        <Section title="Revenue rate and alerts" retry={retry}>
          <MarginSettingsForm projectId={session.projectId()} owner={session.isOwner()} />
        </Section>
        <Section title="Floors per feature" retry={retry}>
          <FeatureFloors projectId={session.projectId()} owner={session.isOwner()} />
        </Section>
      </div>
    </div>
  )
}
