import { createEffect, onCleanup, onMount } from 'solid-js'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

export interface ChartSeries {
  label: string
  values: number[]
  color: string
  bars?: boolean
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
    ...props.series.map((s) => s.values),
  ]
  onMount(() => {
    const bars = uPlot.paths.bars?.({ size: [0.6, 40] })
    plot = new uPlot(
      {
        title: props.title,
        width: Math.max(300, host.clientWidth),
        height: props.height ?? 220,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'UTC'),
        scales: { x: { time: true } },
        axes: [
          {},
          { values: (_u, ticks) => ticks.map((t) => new Intl.NumberFormat('en-US').format(t)) },
        ],
        series: [
          {},
          ...props.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            fill: s.bars ? `${s.color}55` : undefined,
            width: 2,
            ...(s.bars && bars ? { paths: bars, points: { show: false } } : {}),
          })),
        ],
      },
      data(),
      host,
    )
    const resize = new ResizeObserver(() =>
      plot?.setSize({ width: Math.max(300, host.clientWidth), height: props.height ?? 220 }),
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
