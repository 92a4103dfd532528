import { z } from 'zod'

/** Credits and Stars are whole numbers; a trillion per call keeps every sum a safe integer. */
export const amount = z.number().int().positive().max(1_000_000_000_000)
/** Telegram user ids need up to 52 bits: a safe integer. */
export const telegramUserId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)
export const idempotencyKey = z.string().min(1).max(200)
export const reason = z.string().trim().min(1).max(500)
export const metadata = z
  .record(z.string().max(64), z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]))
  .refine((m) => Object.keys(m).length <= 32, 'at most 32 keys')
export const holdId = z.uuid()

export const customerRef = z.object({ telegramUserId })

export const upsertCustomerInput = z.object({
  telegramUserId,
  username: z.string().max(64).nullish(),
  firstName: z.string().max(256).nullish(),
  lastName: z.string().max(256).nullish(),
  languageCode: z.string().max(16).nullish(),
})

export const grantInput = z.object({
  telegramUserId,
  amount,
  reason,
  source: z.enum(['promo', 'manual', 'free_allowance', 'adjustment']).default('manual'),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  priority: z.number().int().min(-1000).max(1000).optional(),
  idempotencyKey,
  metadata: metadata.optional(),
})

export const consumeInput = z.object({
  telegramUserId,
  amount,
  reason,
  idempotencyKey,
  metadata: metadata.optional(),
})

export const reserveInput = consumeInput.extend({
  ttlSeconds: z.number().int().min(1).max(86_400).optional(),
})

export const settleInput = z.object({
  holdId,
  /** The actual cost; 0 is allowed (nothing was spent). */
  amount: z.number().int().min(0).max(1_000_000_000_000),
  reason: reason.optional(),
  idempotencyKey,
  metadata: metadata.optional(),
})

export const releaseInput = z.object({ holdId, reason: reason.optional(), idempotencyKey })

export const ledgerListInput = z.object({
  telegramUserId,
  cursor: z
    .string()
    .regex(/^\d{1,19}$/)
    .nullish(),
  limit: z.number().int().min(1).max(200).default(50),
})
