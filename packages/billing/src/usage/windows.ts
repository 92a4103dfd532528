import { InvalidInput } from '../errors.ts'

export type QuotaPeriod = 'day' | 'week' | 'month'
export type QuotaWindowKind = 'calendar' | 'rolling'

/** The span a quota counts usage over, as of one instant. */
export interface QuotaWindow {
  /** Calendar: the local midnight that opened the window (inclusive). Rolling: `now − period` (exclusive). */
  start: Date
  /** Calendar: the next local boundary (exclusive), when the quota resets. Rolling: `now`. */
  end: Date
  /** Identifies the window for one-event-per-window latches. */
  key: string
}

const HOUR = 3_600_000
const DAY = 24 * HOUR

/** Rolling windows are fixed lengths: the last 24 h, 7 × 24 h, 30 × 24 h. */
export const ROLLING_LENGTH_MS: Record<QuotaPeriod, number> = {
  day: DAY,
  week: 7 * DAY,
  month: 30 * DAY,
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      })
    } catch {
      throw new InvalidInput('timeZone', `unknown IANA time zone "${timeZone}"`)
    }
    formatters.set(timeZone, f)
  }
  return f
}

/** Throws InvalidInput unless `timeZone` is an IANA zone this runtime knows. */
export function assertTimeZone(timeZone: string): void {
  formatter(timeZone)
}

interface Wall {
  year: number
  month: number
  day: number
}

/** Local calendar date and the offset (local − UTC, ms) of an instant in a zone. */
function localAt(ms: number, timeZone: string): Wall & { offset: number } {
  const parts: Record<string, number> = {}
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value)
  }
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = parts
  const wall = Date.UTC(year, month - 1, day, hour, minute, second)
  return { year, month, day, offset: wall - (ms - (((ms % 1000) + 1000) % 1000)) }
}

/**
 * The instant a local midnight happens in a zone. Ambiguous (clocks went back over midnight): the
 * first occurrence. Skipped (clocks jumped over midnight): the first instant after the gap.
 */
export function localMidnight(date: Wall, timeZone: string): Date {
  const wall = Date.UTC(date.year, date.month - 1, date.day)
  const before = localAt(wall - DAY, timeZone).offset
  const after = localAt(wall + DAY, timeZone).offset
  const valid = [...new Set([before, after])]
    .map((offset) => wall - offset)
    .filter((t) => localAt(t, timeZone).offset === wall - t)
  if (valid.length > 0) return new Date(Math.min(...valid))
  return new Date(wall - before)
}

/** Adds days or months to a calendar date (month overflow normalised by `Date.UTC`). */
function shift(date: Wall, days: number, months = 0): Wall {
  const d = new Date(Date.UTC(date.year, date.month - 1 + months, date.day + days))
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() }
}

/**
 * The calendar window containing `now` in the project's time zone: the local day, the ISO week
 * (Monday to Monday) or the month, from local midnight to local midnight. A day across a DST
 * change lasts 23 or 25 hours.
 */
export function calendarWindow(now: Date, period: QuotaPeriod, timeZone: string): QuotaWindow {
  const local = localAt(now.getTime(), timeZone)
  let first: Wall
  let next: Wall
  if (period === 'day') {
    first = local
    next = shift(local, 1)
  } else if (period === 'week') {
    const weekday = (new Date(Date.UTC(local.year, local.month - 1, local.day)).getUTCDay() + 6) % 7
    first = shift(local, -weekday)
    next = shift(first, 7)
  } else {
    first = { year: local.year, month: local.month, day: 1 }
    next = shift(first, 0, 1)
  }
  let start = localMidnight(first, timeZone)
  let end = localMidnight(next, timeZone)
  // A skipped midnight can place `now` just before the computed start; step back one window.
  if (now < start) {
    end = start
    start = localMidnight(
      period === 'month' ? shift(first, 0, -1) : shift(first, period === 'day' ? -1 : -7),
      timeZone,
    )
  }
  return { start, end, key: start.toISOString() }
}

/** The last day/week/month up to and including `now`. */
export function rollingWindow(now: Date, period: QuotaPeriod): QuotaWindow {
  return { start: new Date(now.getTime() - ROLLING_LENGTH_MS[period]), end: now, key: 'rolling' }
}

export function quotaWindow(
  now: Date,
  period: QuotaPeriod,
  window: QuotaWindowKind,
  timeZone: string,
): QuotaWindow {
  return window === 'rolling' ? rollingWindow(now, period) : calendarWindow(now, period, timeZone)
}
