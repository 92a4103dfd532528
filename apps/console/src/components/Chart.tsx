import { createEffect, onCleanup, onMount } from 'solid-js'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { formatDay, formatNumber } from '../lib/format.ts'

export interface ChartSeries {
  label: string
  values: number[]
  color: string
  bars?: boolean
}

const HALF_DAY = 43_200

/** An x tick (seconds, UTC) as the day it names, "4 Nov": the console's date format, not uPlot's "11/4". */
const dayLabel = (seconds: number) => formatDay(new Date(seconds * 1000).toISOString().slice(0, 10))

/** The y axis's width: its widest label measured in the axis font, plus the tick and a gap. */
function axisWidth(u: uPlot, values: string[] | null): number {
  const context = u.ctx
  context.save()
  context.font = '12px system-ui, sans-serif'
  const widest = Math.max(0, ...(values ?? []).map((v) => context.measureText(v).width))
  context.restore()
  return Math.ceil(widest) + 24
}

/** A uPlot chart over daily values; x is the day (seconds since epoch, UTC midnight). */
export function Chart(props: {
  title: string
  days: string[]
  series: ChartSeries[]
  height?: number
}) {
  let host!: HTMLDivElement
  let plot: uPlot | undefined
  const data = (): uPlot.AlignedData => [
    props.days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000),
    // A bar of nothing is not drawn (no dashed outline along the zero line).
    ...props.series.map((s) => (s.bars ? s.values.map((v) => (v === 0 ? null : v)) : s.values)),
  ]
  onMount(() => {
    const bars = uPlot.paths.bars?.({ size: [0.6, 40] })
    plot = new uPlot(
      {
        title: props.title,
        width: Math.max(240, host.clientWidth),
        height: props.height ?? 220,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'UTC'),
        // Half a day either side: the first and last bars are drawn whole, not cut at the edge.
        scales: {
          x: { time: true, range: (_u, min, max) => [min - HALF_DAY, max + HALF_DAY] },
          // From zero, always: a bar's height is its figure (days without one are not drawn).
          y: { range: (_u, _min, max) => uPlot.rangeNum(0, Math.max(max ?? 0, 1), 0.1, true) },
        },
        // The legend names the series; the figures are on the axes (no "Time: --" row).
        legend: { live: false },
        axes: [
          // Whole days only: a tick between two days would repeat a day's label.
          {
            incrs: [1, 2, 3, 7, 14, 28].map((d) => d * 86_400),
            values: (_u, ticks) => ticks.map(dayLabel),
          },
          {
            values: (_u, ticks) => ticks.map((t) => formatNumber(t)),
            // As wide as its widest label (the cards' format), so "10,000" is never clipped to "0,000".
            size: (u, values) => axisWidth(u, values),
          },
        ],
        series: [
          {},
          ...props.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            fill: s.bars ? `${s.color}bb` : undefined,
            width: 2,
            ...(s.bars && bars ? { paths: bars, points: { show: false } } : {}),
          })),
        ],
      },
      data(),
      host,
    )
    const resize = new ResizeObserver(() =>
      plot?.setSize({ width: Math.max(240, host.clientWidth), height: props.height ?? 220 }),
    )
    resize.observe(host)
    onCleanup(() => {
      resize.disconnect()
      plot?.destroy()
    })
  })
  createEffect(() => {
    const next = data()
    plot?.setData(next)
  })
  return <div class="chart" ref={host} role="img" aria-label={props.title} />
}
