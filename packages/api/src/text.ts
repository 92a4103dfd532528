import { z } from 'zod'

/**
 * One rule for every text input of every procedure. PostgreSQL refuses a NUL in `text` and
 * `jsonb` (so it used to surface as a 500), a lone surrogate is silently turned into U+FFFD on
 * the way in (the stored string is not the one that was checked), and control characters mean
 * nothing in a name, a key or a search. A violation is BAD_REQUEST naming the field.
 */

/** C0 controls, DEL and C1 controls (`\p{Cc}`); `prose` lets `\n` and `\t` through. */
const CONTROL = /\p{Cc}/u
const CONTROL_BUT_LINE_BREAK_AND_TAB = /[^\P{Cc}\n\t]/u
/** With the `u` flag a surrogate pair is one code point; only a lone half is `\p{Cs}`. */
const LONE_SURROGATE = /\p{Cs}/u

const noControl = 'must not contain control characters (U+0000–U+001F, U+007F–U+009F)'
const noControlButNewline = 'must not contain control characters other than line breaks and tabs'
const wellFormed = 'must be well-formed Unicode (no lone surrogates)'

interface TextOptions {
  /** Fewest characters (UTF-16 code units) after trimming; 0 by default. */
  min?: number
  /** Drop surrounding whitespace first (names, reasons); keys and secrets are taken exactly. */
  trim?: boolean
}

function text(max: number, multiLine: boolean, options: TextOptions) {
  let schema = z.string()
  if (options.trim) schema = schema.trim()
  if (options.min) schema = schema.min(options.min)
  return schema
    .max(max)
    .refine(
      (s) => !(multiLine ? CONTROL_BUT_LINE_BREAK_AND_TAB : CONTROL).test(s),
      multiLine ? noControlButNewline : noControl,
    )
    .refine((s) => !LONE_SURROGATE.test(s), wellFormed)
}

/** One line of text: a name, a key, an id, a search term. No control character at all. */
export const line = (max: number, options: TextOptions = {}) => text(max, false, options)

/** Free text an operator or a bot writes (a reason, a description): line breaks and tabs allowed. */
export const prose = (max: number, options: TextOptions = {}) => text(max, true, options)

/** The longest text of each kind, in UTF-16 code units. */
export const TEXT_LIMITS = {
  /** Idempotency keys: a UUID, or a key derived from a Telegram update. */
  idempotencyKey: 200,
  /** Catalog and feature keys. */
  key: 64,
  /** Telegram ids passed as text (charge ids, query ids). */
  telegramId: 256,
  /** People's names (Telegram allows 64; other sources may carry more). */
  personName: 256,
  username: 64,
  languageCode: 16,
  /** Names an operator gives: an API key, a project, a feature. */
  label: 100,
  reason: 500,
  email: 254,
  password: 1000,
  search: 100,
  /** Signed Telegram data (Mini App init data) and invoice payloads. */
  signedData: 8192,
  url: 2000,
} as const

export const idempotencyKey = line(TEXT_LIMITS.idempotencyKey, { min: 1 })
/** Why credits moved, a refund happened, a finding was resolved: shown in the timeline. */
export const reason = prose(TEXT_LIMITS.reason, { min: 1, trim: true })
export const personName = line(TEXT_LIMITS.personName)
export const username = line(TEXT_LIMITS.username)
export const languageCode = line(TEXT_LIMITS.languageCode)
export const telegramId = line(TEXT_LIMITS.telegramId, { min: 1 })
/** A product's or a feature's key in the catalog. */
export const catalogKey = line(TEXT_LIMITS.key, { min: 1 })
export const label = line(TEXT_LIMITS.label, { min: 1, trim: true })
export const email = line(TEXT_LIMITS.email, { min: 3, trim: true })
/** Taken exactly (never trimmed); only what no keyboard types is refused. */
export const password = line(TEXT_LIMITS.password, { min: 1 })
export const searchTerm = line(TEXT_LIMITS.search, { trim: true })
