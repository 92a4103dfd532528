import { For } from 'solid-js'
import { formatNumber } from '../lib/format.ts'

/**
 * Micro-USD as dollars to the micro-dollar ("$1,234.567890"): the margin views agree with the
 * ledger exactly, so the console shows every digit rather than a rounded figure. Whole dollars
 * go through the shared number formatter; integers only, no float division.
 */
export function formatUsd(micros: number): string {
  // A word joiner keeps "−$" together when a narrow card wraps the figure.
  const sign = micros < 0 ? '−\u2060' : ''
  const abs = Math.abs(micros)
  const dollars = Math.floor(abs / 1_000_000)
  const rest = String(abs % 1_000_000).padStart(6, '0')
  return `${sign}$${formatNumber(dollars)}.${rest}`
}

export const formatPercent = (p: number | null) => (p === null ? '—' : `${p.toFixed(2)} %`)

export interface ChartDay {
  key: string
  revenueMicros: number
  costMicros: number
}

/**
 * Revenue and cost per day as paired bars (SVG, no chart library): a day whose cost bar is
 * taller than its revenue bar lost money. Scales to its container's width.
 */
export function MarginChart(props: { days: ChartDay[] }) {
  const height = 160
  const max = () => Math.max(1, ...props.days.flatMap((d) => [d.revenueMicros, d.costMicros]))
  const slot = () => 600 / Math.max(1, props.days.length)
  const bar = (v: number) => Math.max(0, (v / max()) * (height - 20))
  return (
    <svg
      class="margin-chart"
      data-testid="margin-chart"
      viewBox={`0 0 600 ${height}`}
      preserveAspectRatio="none"
      role="img"
      aria-label="Revenue and cost per day"
      style={{ width: '100%', height: `${height}px` }}
    >
      <For each={props.days}>
        {(d, i) => (
          <g data-day={d.key}>
            <title>{`${d.key}: revenue ${formatUsd(d.revenueMicros)}, cost ${formatUsd(d.costMicros)}`}</title>
            <rect
              data-series="revenue"
              x={i() * slot() + slot() * 0.1}
              y={height - bar(d.revenueMicros)}
              width={slot() * 0.38}
              height={bar(d.revenueMicros)}
              fill="#2f855a"
            />
            <rect
              data-series="cost"
              x={i() * slot() + slot() * 0.52}
              y={height - bar(d.costMicros)}
              width={slot() * 0.38}
              height={bar(d.costMicros)}
              fill="#c05621"
            />
          </g>
        )}
      </For>
    </svg>
  )
}
