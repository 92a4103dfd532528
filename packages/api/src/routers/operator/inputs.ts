import { z } from 'zod'
import {
  amount,
  cursor,
  idempotencyKey,
  instant,
  limit,
  MAX_AMOUNT,
  reason,
  rowId,
  telegramUserId,
  wholeNumber,
} from '../../inputs.ts'
import {
  catalogKey,
  email,
  label,
  line,
  password,
  prose,
  searchTerm,
  TEXT_LIMITS,
} from '../../text.ts'

export const loginInput = z.object({ email, password })

export const periodInput = z
  .object({ from: instant, to: instant })
  .refine((p) => new Date(p.from) < new Date(p.to), {
    message: 'from must be before to',
    path: ['to'],
  })

export const customerSearchInput = z.object({
  query: searchTerm.nullish(),
  cursor,
  limit: limit(100, 25),
})

export const customerInput = z.object({ telegramUserId })

export const timelineInput = z.object({
  telegramUserId,
  cursor,
  limit: limit(200, 50),
})

export const adjustInput = z.object({
  telegramUserId,
  /** Signed: positive grants, negative takes away. */
  amount: wholeNumber(-MAX_AMOUNT, MAX_AMOUNT).refine((n) => n !== 0, 'must not be zero'),
  reason,
  expiresAt: instant.nullish(),
  idempotencyKey,
})

export const apiKeyCreateInput = z.object({ name: label })
export const apiKeyRevokeInput = z.object({ keyId: z.uuid() })

export const auditListInput = z.object({
  action: line(TEXT_LIMITS.key, { trim: true }).nullish(),
  cursor,
  limit: limit(200, 50),
})

export const settingsUpdateInput = z.object({
  name: label.optional(),
  timeZone: line(64, { min: 1 }).optional(),
  refundPolicy: z.enum(['debt', 'absorb']).optional(),
  overagePolicy: z.enum(['cap', 'debt', 'absorb']).optional(),
  lowBalanceThreshold: amount.or(z.literal(0)).optional(),
})

const chargeId = line(TEXT_LIMITS.telegramId, { min: 1 })

export const paymentsFilterInput = z.object({
  status: z.enum(['paid', 'refunded', 'unmatched']).nullish(),
  productKey: catalogKey.nullish(),
  from: instant.nullish(),
  to: instant.nullish(),
})

export const paymentsListInput = paymentsFilterInput.extend({
  /** The live feed asks only for payments newer than the newest it shows. */
  after: rowId.nullish(),
  cursor,
  limit: limit(200, 50),
})

export const refundInput = z.object({ telegramPaymentChargeId: chargeId, reason })

const productTerms = {
  /** Telegram's invoice limits: a title of 32 characters, a description of 255. */
  title: line(32, { min: 1, trim: true }),
  description: prose(255, { min: 1, trim: true }),
  priceStars: wholeNumber(1, 100_000),
  credits: wholeNumber(0, MAX_AMOUNT).optional(),
  creditsExpireDays: wholeNumber(1, 3650).nullish(),
  featureKey: catalogKey.nullish(),
  durationDays: wholeNumber(1, 36_500).nullish(),
  sortOrder: wholeNumber(-1000, 1000).optional(),
  /** Paid media: the photos and videos sendPaidMedia sends (the engine checks 1–10 items). */
  media: z
    .array(z.object({ type: z.enum(['photo', 'video']), media: line(2048, { min: 1 }) }))
    .max(10)
    .nullish(),
  /** Subscriptions: Telegram's only period is 30 days; another value is refused by name. */
  periodDays: wholeNumber(1, 366).optional(),
}

export const productCreateInput = z.object({
  key: catalogKey,
  kind: z.enum(['pack', 'unlock', 'subscription', 'paid_media']),
  ...productTerms,
})

export const productUpdateInput = z.object({
  key: catalogKey,
  patch: z.object(productTerms).partial(),
})

export const productArchiveInput = z.object({ key: catalogKey, archived: z.boolean() })

export const featureDefineInput = z.object({
  key: catalogKey,
  name: label,
  kind: z.enum(['metered', 'gated']),
  credits: wholeNumber(0, 1_000_000_000).optional(),
  perUnits: wholeNumber(1, 1_000_000_000).optional(),
  clientConsumable: z.boolean().optional(),
})

export const featureKeyInput = z.object({ key: catalogKey })

export const findingsInput = z.object({
  runId: z.uuid().nullish(),
  unresolved: z.boolean().optional(),
})

export const resolveFindingInput = z.object({
  findingId: z.uuid(),
  resolution: prose(TEXT_LIMITS.reason, { min: 1, trim: true }),
})

export const botTokenInput = z.object({
  botToken: line(300, { min: 1, trim: true }).nullable(),
})

export const relayInput = z.object({
  relayTarget: line(TEXT_LIMITS.url)
    .pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }))
    .nullable(),
})

export const entitlementGrantInput = z.object({
  telegramUserId,
  featureKey: catalogKey,
  /** Days of access, starting where current access ends; omitted: for life. */
  durationDays: wholeNumber(1, 36_500).nullish(),
})

export const entitlementRevokeInput = z.object({
  entitlementId: rowId,
  reason,
})
