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

const chargeId = z.string().min(1).max(256)
const productKeyRef = z.string().min(1).max(64)

export const paymentsFilterInput = z.object({
  status: z.enum(['paid', 'refunded', 'unmatched']).nullish(),
  productKey: productKeyRef.nullish(),
  from: z.iso.datetime({ offset: true }).nullish(),
  to: z.iso.datetime({ offset: true }).nullish(),
})

export const paymentsListInput = paymentsFilterInput.extend({
  /** The live feed asks only for payments newer than the newest it shows. */
  after: z.number().int().positive().nullish(),
  cursor,
  limit: z.number().int().min(1).max(200).default(50),
})

export const refundInput = z.object({ telegramPaymentChargeId: chargeId, reason })

const productTerms = {
  title: z.string().trim().min(1).max(32),
  description: z.string().trim().min(1).max(255),
  priceStars: z.number().int().min(1).max(100_000),
  credits: z.number().int().min(0).max(1_000_000_000_000).optional(),
  creditsExpireDays: z.number().int().min(1).max(3650).nullish(),
  featureKey: z.string().min(1).max(64).nullish(),
  durationDays: z.number().int().min(1).max(36_500).nullish(),
  sortOrder: z.number().int().min(-1000).max(1000).optional(),
}

export const productCreateInput = z.object({
  key: productKeyRef,
  kind: z.enum(['pack', 'unlock', 'subscription']),
  ...productTerms,
})

export const productUpdateInput = z.object({
  key: productKeyRef,
  patch: z.object(productTerms).partial(),
})

export const productArchiveInput = z.object({ key: productKeyRef, archived: z.boolean() })

export const featureDefineInput = z.object({
  key: z.string().min(1).max(64),
  name: z.string().trim().min(1).max(100),
  kind: z.enum(['metered', 'gated']),
  credits: z.number().int().min(0).max(1_000_000_000).optional(),
  perUnits: z.number().int().min(1).max(1_000_000_000).optional(),
  clientConsumable: z.boolean().optional(),
})

export const featureKeyInput = z.object({ key: z.string().min(1).max(64) })

export const findingsInput = z.object({
  runId: z.uuid().nullish(),
  unresolved: z.boolean().optional(),
})

export const resolveFindingInput = z.object({
  findingId: z.uuid(),
  resolution: z.string().trim().min(1).max(500),
})

export const botTokenInput = z.object({ botToken: z.string().trim().min(1).max(300).nullable() })

export const relayInput = z.object({ relayTarget: z.url().max(2000).nullable() })

export const entitlementGrantInput = z.object({
  telegramUserId,
  featureKey: z.string().min(1).max(64),
  /** Days of access, starting where current access ends; omitted: for life. */
  durationDays: z.number().int().min(1).max(36_500).nullish(),
})

export const entitlementRevokeInput = z.object({
  entitlementId: z.number().int().positive(),
  reason,
})
