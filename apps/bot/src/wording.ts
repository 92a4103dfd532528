/** 12000 → "12 000": grouped by spaces, the way the e-Stars console and ledger lines write it. */
export function formatCount(n: number): string {
  const sign = n < 0 ? '−' : ''
  return sign + String(Math.abs(Math.trunc(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ' ')
}

export const plural = (n: number, one: string, many: string) =>
  `${formatCount(n)} ${n === 1 ? one : many}`

/** "in 5 h 12 min", "in 3 min", "in 2 days". */
export function inHowLong(iso: string, now = Date.now()): string {
  const minutes = Math.max(1, Math.ceil((Date.parse(iso) - now) / 60_000))
  if (minutes < 60) return `in ${minutes} min`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `in ${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`
  return `in ${Math.round(hours / 24)} days`
}

/** "at 00:00 UTC (in 5 h 12 min)", or "on 27 Dec" for far-off instants. */
export function whenResets(iso: string | null, now = Date.now()): string {
  if (!iso) return 'soon'
  const at = new Date(iso)
  const far = at.getTime() - now > 36 * 3_600_000
  const when = far
    ? `on ${at.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' })}`
    : `at ${at.toISOString().slice(11, 16)} UTC`
  return `${when} (${inHowLong(iso, now)})`
}

/** "27 Nov 15:02" in UTC: ledger lines and payment dates. */
export function shortDate(iso: string): string {
  const at = new Date(iso)
  return `${at.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' })} ${at.toISOString().slice(11, 16)}`
}

/** "until 27 Dec 2026" or "for life". */
export function until(iso: string | null): string {
  if (iso === null) return 'for life'
  return `until ${new Date(iso).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' })}`
}

export const periodWord = (period: string) =>
  period === 'day' ? 'today' : period === 'week' ? 'this week' : 'this month'
