import { A, createAsync, query, revalidate, useSearchParams } from '@solidjs/router'
import { For, Show } from 'solid-js'
import { Chart } from '../components/Chart.tsx'
import { Section } from '../components/Section.tsx'
import { Table } from '../components/Table.tsx'
import { api } from '../lib/api.ts'
import { customerName, formatDay, formatNumber, formatStars, plural } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

const getOverview = query((projectId: string, days: number) => {
  const to = new Date()
  // Whole days: from the start of the day `days - 1` days ago (UTC) to now.
  const from = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate() - days + 1))
  return api.operator.overview.get.query({
    projectId,
    from: from.toISOString(),
    to: to.toISOString(),
  })
}, 'overview')

const periods = [7, 30, 90]

export default function Overview() {
  const session = useSession()
  const [params, setParams] = useSearchParams<{ days?: string }>()
  const days = () => (periods.includes(Number(params.days)) ? Number(params.days) : 30)
  const overview = createAsync(() => getOverview(session.projectId(), days()))
  return (
    <div class="page">
      <header class="page-header">
        <h1>Overview</h1>
        <fieldset class="segmented" aria-label="Period">
          <For each={periods}>
            {(p) => (
              <button
                type="button"
                classList={{ selected: days() === p }}
                aria-pressed={days() === p}
                onClick={() => setParams({ days: String(p) })}
              >
                {p} days
              </button>
            )}
          </For>
        </fieldset>
      </header>
      <Section retry={() => revalidate(getOverview.key)} class="plain">
        <Show when={overview()}>
          {(o) => (
            <>
              <div class="metrics">
                <Metric
                  label="Stars earned"
                  value={formatStars(o().starsEarned)}
                  hint={plural(o().payments, 'payment')}
                />
                <Metric
                  label="Refunds"
                  value={formatStars(o().starsRefunded)}
                  hint={plural(o().refunds, 'refund')}
                />
                <Metric label="Net" value={formatStars(o().starsNet)} />
                <Metric label="Paying customers" value={formatNumber(o().payingCustomers)} />
                <Metric
                  label="Credits sold"
                  value={formatNumber(o().creditsSold)}
                  hint={`+${formatNumber(o().creditsGranted)} granted free`}
                />
                <Metric label="Credits consumed" value={formatNumber(o().creditsConsumed)} />
                <Metric
                  label="Shortfalls"
                  testId="shortfalls"
                  value={formatNumber(o().shortfalls.count)}
                  hint={
                    o().shortfalls.count === 0
                      ? 'every answer was paid in full'
                      : `${plural(o().shortfalls.credits, 'credit')} unpaid · ${formatNumber(o().shortfalls.debt)} owed as debt`
                  }
                />
              </div>
              <div class="charts">
                <div class="card">
                  <Chart
                    title="Stars per day"
                    days={o().days.map((d) => d.day)}
                    series={[
                      {
                        label: 'Earned',
                        values: o().days.map((d) => d.starsEarned),
                        color: '#d98e04',
                        bars: true,
                      },
                      {
                        label: 'Refunded',
                        values: o().days.map((d) => d.starsRefunded),
                        color: '#c0392b',
                        bars: true,
                      },
                    ]}
                  />
                </div>
                <div class="card">
                  <Chart
                    title="Credits sold vs consumed"
                    days={o().days.map((d) => d.day)}
                    series={[
                      {
                        label: 'Sold',
                        values: o().days.map((d) => d.creditsSold),
                        color: '#2471a3',
                      },
                      {
                        label: 'Consumed',
                        values: o().days.map((d) => d.creditsConsumed),
                        color: '#17a589',
                      },
                    ]}
                  />
                </div>
              </div>
              <section class="card">
                <header class="card-header">
                  <h2>Top consumers</h2>
                  <span class="muted">
                    {formatDay(o().days[0]!.day)} – {formatDay(o().days[o().days.length - 1]!.day)}{' '}
                    ({o().timeZone})
                  </span>
                </header>
                <Table
                  rows={o().topConsumers}
                  label="Top consumers"
                  empty="No credits were consumed in this period."
                  columns={[
                    {
                      header: 'Customer',
                      cell: (c) => <A href={`/customers/${c.telegramUserId}`}>{customerName(c)}</A>,
                    },
                    {
                      header: 'Credits consumed',
                      class: 'num',
                      cell: (c) => formatNumber(c.consumed),
                    },
                  ]}
                />
              </section>
            </>
          )}
        </Show>
      </Section>
    </div>
  )
}

function Metric(props: { label: string; value: string; hint?: string; testId?: string }) {
  return (
    <div class="metric card" data-testid={props.testId}>
      <div class="metric-label">{props.label}</div>
      <div class="metric-value">{props.value}</div>
      <Show when={props.hint}>
        <div class="muted">{props.hint}</div>
      </Show>
    </div>
  )
}
