import { formatNumber } from '@e-stars/billing/format'

/** 12000 → "12,000": the one formatter the console, the bot and the timeline use too. */
export const count = formatNumber

/** "today", "this week", "this month": how a quota's window is said. */
const periodWords: Record<string, string> = {
  day: 'today',
  week: 'this week',
  month: 'this month',
}
export const inPeriod = (period: string) => periodWords[period] ?? `this ${period}`

/** "Dec 3, 04:05 PM" in the user's own locale and time zone. */
export const when = (iso: string) =>
  new Date(iso).toLocaleString(undefined, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  })
