import { describeError, errorInfo } from '../../lib/api.ts'

/**
 * Dollars typed by the operator, to whole micro-USD, exactly: the text is split at the point,
 * never parsed as a float. At most six decimals (a micro-dollar); null when it is not a number
 * of dollars, 0 or more.
 */
export function microsOfUsd(text: string): number | null {
  const m = /^\s*\$?\s*(\d{1,9})(?:\.(\d{0,6}))?\s*$/.exec(text.replace(/,/g, ''))
  if (!m) return null
  return Number(m[1]) * 1_000_000 + Number((m[2] ?? '').padEnd(6, '0'))
}

/** Micro-USD as a plain dollar figure for an input's value: "2.5", "0.013", "0". */
export function usdOfMicros(micros: number): string {
  const whole = Math.floor(micros / 1_000_000)
  const rest = String(micros % 1_000_000)
    .padStart(6, '0')
    .replace(/0+$/, '')
  return rest ? `${whole}.${rest}` : String(whole)
}

/** A form's own refusal, already in words (the field it names is the one to fix). */
export class FormProblem extends Error {}

/** What each margin field must be, in words, for the API's BAD_REQUEST naming it. */
const fieldRules: Record<string, string> = {
  provider: 'Name the provider (for example openai), up to 100 characters.',
  model: 'Name the model (for example gpt-4o-mini), up to 200 characters.',
  inputPerMillionMicros:
    'The input price must be a number of dollars per million tokens, 0 or more.',
  outputPerMillionMicros:
    'The output price must be a number of dollars per million tokens, 0 or more.',
  cachedInputPerMillionMicros:
    'The cached input price must be a number of dollars per million tokens, 0 or more, or empty.',
  capMicros: 'The cap must be a number of dollars above 0.',
  productKey: 'Choose the product the cap is for.',
  telegramUserId: 'Enter the customer’s Telegram user id (a whole number).',
  usdPerStarMicros: 'The rate must be a number of dollars per Star, 0 or more.',
  marginAlertPercent: 'The alert threshold must be a whole percentage from −100 to 100, or empty.',
  unpricedModelPolicy: 'Choose what happens to a call on a model with no price.',
  floorPercent: 'The margin floor must be a whole percentage from 0 to 100, or empty.',
  featureKey: 'Choose a metered feature.',
}

/** The sentence for a failed margin form: its own problem, a field rule, or the console's usual one. */
export function marginErrorText(error: unknown): string {
  if (error instanceof FormProblem) return error.message
  const info = errorInfo(error)
  if (info.code === 'NOT_FOUND' && /customer/i.test(info.message))
    return 'No customer with that Telegram user id in this project yet.'
  if (info.fields) {
    const first = Object.entries(info.fields).find(([, v]) => v?.length)
    const rule = first && fieldRules[first[0].split('.').pop() ?? first[0]]
    if (rule) return rule
  }
  if (info.code === 'BAD_REQUEST') {
    const named = Object.keys(fieldRules).find((f) => info.message.includes(f))
    if (named) return fieldRules[named]!
  }
  return describeError(error)
}
