/**
 * The one way e-Stars writes numbers, Stars and counted words, for every surface: the console,
 * the Mini App, the timeline sentences (and the bot's words). A leaf module with no imports, so
 * the apps bundle this file only (`@e-stars/billing/format`), never the engine.
 */

const MINUS = '\u2212'
const grouping = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })

/** 12000 → "12,000", −100000 → "−100,000" (a true minus sign). Whole numbers only. */
export function formatNumber(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—'
  const whole = Math.trunc(n)
  return (whole < 0 ? MINUS : '') + grouping.format(Math.abs(whole))
}

/** +500, −120, 0. */
export const formatSigned = (n: number) => (n > 0 ? `+${formatNumber(n)}` : formatNumber(n))

/** 50 → "50 ★". */
export const formatStars = (n: number) => `${formatNumber(n)} ★`

/** (1, 'credit') → "1 credit", (2, 'credit') → "2 credits"; irregular plurals name their own. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatNumber(n)} ${Math.abs(n) === 1 ? one : many}`
}

const ones = [
  '',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
]
const tens = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety']
const scales = ['', 'thousand', 'million', 'billion', 'trillion', 'quadrillion']

function belowThousand(n: number): string {
  const hundred = Math.floor(n / 100)
  const rest = n % 100
  const parts: string[] = []
  if (hundred) parts.push(`${ones[hundred]} hundred`)
  if (rest >= 20)
    parts.push(
      rest % 10
        ? `${tens[Math.floor(rest / 10)]}-${ones[rest % 10]}`
        : tens[Math.floor(rest / 10)]!,
    )
  else if (rest) parts.push(ones[rest]!)
  return parts.join(' ')
}

/**
 * 2147483648 → "two billion one hundred forty-seven million four hundred eighty-three thousand
 * six hundred forty-eight": what a confirmation says so a slipped zero is seen, not missed.
 */
export function numberInWords(n: number): string {
  let rest = Math.abs(Math.trunc(n))
  if (rest === 0) return 'zero'
  if (!Number.isSafeInteger(rest)) return formatNumber(n)
  const groups: string[] = []
  for (let scale = 0; rest > 0; scale++, rest = Math.floor(rest / 1000)) {
    const group = rest % 1000
    if (group) groups.unshift([belowThousand(group), scales[scale]].filter(Boolean).join(' '))
  }
  return (n < 0 ? 'minus ' : '') + groups.join(' ')
}
