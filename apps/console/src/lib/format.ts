// Numbers, Stars and counted words come from the one formatter the Mini App, the timeline and the
// bot share: a dependency-free file of @e-stars/billing, bundled alone (no engine code ships).
export {
  formatNumber,
  formatSigned,
  formatStars,
  numberInWords,
  plural,
} from '@e-stars/billing/format'

/** A date and time in the project's time zone, e.g. "27 Nov 2026, 15:04". */
export function formatDateTime(iso: string | null | undefined, timeZone: string) {
  if (!iso) return '—'
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  }).format(new Date(iso))
}

export function formatDay(day: string) {
  const [y, m, d] = day.split('-').map(Number)
  return new Intl.DateTimeFormat('en-GB', {
    day: 'numeric',
    month: 'short',
    timeZone: 'UTC',
  }).format(new Date(Date.UTC(y!, m! - 1, d!)))
}

/** "in 3 days", "2 hours ago" — for expiries and last activity. */
export function formatRelative(iso: string | null | undefined, now = Date.now()) {
  if (!iso) return '—'
  const diff = new Date(iso).getTime() - now
  const abs = Math.abs(diff)
  const units: Array<[Intl.RelativeTimeFormatUnit, number]> = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
  ]
  const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' })
  for (const [unit, ms] of units) if (abs >= ms) return rtf.format(Math.round(diff / ms), unit)
  return rtf.format(Math.round(diff / 1000), 'second')
}

export const customerName = (c: {
  username: string | null
  firstName: string | null
  lastName?: string | null
  telegramUserId: number
}) =>
  [c.firstName, c.lastName].filter(Boolean).join(' ') ||
  (c.username ? `@${c.username}` : `User ${c.telegramUserId}`)
