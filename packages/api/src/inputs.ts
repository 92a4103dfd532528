import { z } from 'zod'
import { idempotencyKey, languageCode, line, personName, reason, username } from './text.ts'

export { idempotencyKey, reason }

/**
 * A whole number within `[min, max]`: a safe integer (zod's `int`), and never −0, which JSON can
 * spell but no count of credits, Stars or units means.
 */
export const wholeNumber = (min: number, max: number) =>
  z
    .number()
    .int()
    .min(min)
    .max(max)
    .refine((n) => !Object.is(n, -0), 'must not be −0')

/** A trillion per call keeps every sum a safe integer. */
export const MAX_AMOUNT = 1_000_000_000_000
/** Credits and Stars are whole numbers. */
export const amount = wholeNumber(1, MAX_AMOUNT)
/** Telegram user ids need up to 52 bits: a safe integer. */
export const telegramUserId = wholeNumber(1, Number.MAX_SAFE_INTEGER)
/** A row id the API handed out (ledger entries, entitlements, payments): a positive safe integer. */
export const rowId = wholeNumber(1, Number.MAX_SAFE_INTEGER)
/** Page sizes. */
export const limit = (max: number, byDefault: number) => wholeNumber(1, max).default(byDefault)

/**
 * A page cursor: the decimal id of the last row seen. Ids are safe integers (the engine reads a
 * cursor as a number), so a larger cursor names no row and would round to another on the way in.
 */
export const cursor = z
  .string()
  .regex(/^\d{1,16}$/, { message: 'a cursor from the previous page', abort: true })
  .refine((s) => Number(s) <= Number.MAX_SAFE_INTEGER, 'a cursor from the previous page')
  .nullish()

/** An instant with its offset, e.g. `2026-01-31T12:00:00Z`, between 1970 and 9999. */
export const instant = z.iso.datetime({ offset: true }).refine((s) => {
  const year = new Date(s).getUTCFullYear()
  return Number.isNaN(year) || (year >= 1970 && year <= 9999)
}, 'must be between 1970 and 9999')

/** Free-form facts a caller attaches to an act (model, tokens…), stored as JSON. */
export const metadata = z
  .record(line(64, { min: 1 }), z.union([line(1000), z.number(), z.boolean(), z.null()]))
  .refine((m) => Object.keys(m).length <= 32, 'at most 32 keys')
export const holdId = z.uuid()

export const customerRef = z.object({ telegramUserId })

export const upsertCustomerInput = z.object({
  telegramUserId,
  username: username.nullish(),
  firstName: personName.nullish(),
  lastName: personName.nullish(),
  languageCode: languageCode.nullish(),
})

export const grantInput = z.object({
  telegramUserId,
  amount,
  reason,
  source: z.enum(['promo', 'manual', 'free_allowance', 'adjustment']).default('manual'),
  expiresAt: instant.optional(),
  priority: wholeNumber(-1000, 1000).optional(),
  idempotencyKey,
  metadata: metadata.optional(),
  /** What the lot is worth in micro-USD, recognised as revenue as it burns (free credits: 0). */
  valueMicros: wholeNumber(0, MAX_AMOUNT).optional(),
})

export const consumeInput = z.object({
  telegramUserId,
  amount,
  reason,
  idempotencyKey,
  metadata: metadata.optional(),
})

export const reserveInput = consumeInput.extend({
  ttlSeconds: wholeNumber(1, 86_400).optional(),
})

export const settleInput = z.object({
  holdId,
  /** The actual cost; 0 is allowed (nothing was spent). */
  amount: wholeNumber(0, MAX_AMOUNT),
  reason: reason.optional(),
  idempotencyKey,
  metadata: metadata.optional(),
})

export const releaseInput = z.object({ holdId, reason: reason.optional(), idempotencyKey })

export const ledgerListInput = z.object({
  telegramUserId,
  cursor,
  limit: limit(200, 50),
})

/** Token counts and micro-USD: whole numbers, 0 or more (a trillion keeps every sum safe). */
const tokens = wholeNumber(0, MAX_AMOUNT)

/**
 * A metered act's usage record (issue 14). Strict: an unknown field (a misspelt `inputTokens`, a
 * `currency`) is refused, not ignored — every amount is micro-USD.
 */
export const usageRecordInput = z.strictObject({
  provider: line(100).refine((s) => s.trim() !== '', 'must not be empty'),
  model: line(200).refine((s) => s.trim() !== '', 'must not be empty'),
  inputTokens: tokens,
  outputTokens: tokens,
  cachedInputTokens: tokens.optional(),
  reasoningTokens: tokens.optional(),
  costMicros: tokens.optional(),
})
