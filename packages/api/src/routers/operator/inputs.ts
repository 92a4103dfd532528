import { z } from 'zod'
import { amount, idempotencyKey, reason, telegramUserId } from '../../inputs.ts'

export const cursor = z
  .string()
  .regex(/^\d{1,19}$/)
  .nullish()

export const loginInput = z.object({
  email: z.string().trim().min(3).max(254),
  password: z.string().min(1).max(1000),
})

export const periodInput = z
  .object({ from: z.iso.datetime({ offset: true }), to: z.iso.datetime({ offset: true }) })
  .refine((p) => new Date(p.from) < new Date(p.to), {
    message: 'from must be before to',
    path: ['to'],
  })

export const customerSearchInput = z.object({
  query: z.string().trim().max(100).nullish(),
  cursor,
  limit: z.number().int().min(1).max(100).default(25),
})

export const customerInput = z.object({ telegramUserId })

export const timelineInput = z.object({
  telegramUserId,
  cursor,
  limit: z.number().int().min(1).max(200).default(50),
})

export const adjustInput = z.object({
  telegramUserId,
  /** Signed: positive grants, negative takes away. */
  amount: z
    .number()
    .int()
    .min(-1_000_000_000_000)
    .max(1_000_000_000_000)
    .refine((n) => n !== 0, 'must not be zero'),
  reason,
  expiresAt: z.iso.datetime({ offset: true }).nullish(),
  idempotencyKey,
})

export const apiKeyCreateInput = z.object({ name: z.string().trim().min(1).max(100) })
export const apiKeyRevokeInput = z.object({ keyId: z.uuid() })

export const auditListInput = z.object({
  action: z.string().trim().max(64).nullish(),
  cursor,
  limit: z.number().int().min(1).max(200).default(50),
})

export const settingsUpdateInput = z.object({
  name: z.string().trim().min(1).max(100).optional(),
  timeZone: z.string().min(1).max(64).optional(),
  refundPolicy: z.enum(['debt', 'absorb']).optional(),
  lowBalanceThreshold: amount.or(z.literal(0)).optional(),
})
