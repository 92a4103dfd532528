import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import spec from '../spec/stars-subset.json' with { type: 'json' }
import {
  AffiliateInfoSchema,
  BotSubscriptionUpdatedSchema,
  InvoiceSchema,
  LabeledPriceSchema,
  type MethodName,
  methodParamTable,
  methodResults,
  PaidMediaPurchasedSchema,
  PreCheckoutQuerySchema,
  RefundedPaymentSchema,
  StarAmountSchema,
  StarTransactionSchema,
  StarTransactionsSchema,
  SuccessfulPaymentSchema,
  TransactionPartnerAffiliateProgramSchema,
  TransactionPartnerFragmentSchema,
  TransactionPartnerTelegramAdsSchema,
  TransactionPartnerTelegramApiSchema,
  TransactionPartnerUserSchema,
  UserSchema,
  WebhookInfoSchema,
} from '../src/index.ts'

type SpecFields = Record<string, { types: string[]; required: boolean }>
const specMethods = spec.methods as Record<string, { returns: string[]; fields: SpecFields }>
const specTypes = spec.types as Record<string, SpecFields>

const wrapped = Object.keys(methodParamTable) as MethodName[]

describe(`wrapped methods agree with ${spec.version} (spec/stars-subset.json)`, () => {
  it('wraps every payment, ledger and webhook method the spec lists', () => {
    expect(wrapped.sort()).toEqual(
      [
        'answerPreCheckoutQuery',
        'createInvoiceLink',
        'deleteWebhook',
        'editUserStarSubscription',
        'getMe',
        'getMyStarBalance',
        'getStarTransactions',
        'getWebhookInfo',
        'refundStarPayment',
        'sendInvoice',
        'sendMessage',
        'setWebhook',
      ].sort(),
    )
    expect(Object.keys(methodResults).sort()).toEqual([...wrapped].sort())
  })

  it.each(wrapped)(
    '%s: the param type names every spec param, with the same requiredness',
    (method) => {
      const specFields = specMethods[method]?.fields
      expect(specFields, `${method} missing from spec`).toBeDefined()
      const table: Record<string, string> = methodParamTable[method]
      for (const [name, field] of Object.entries(specFields ?? {})) {
        expect(table[name], `${method}.${name} missing from the param type`).toBeDefined()
        if (field.required) expect(table[name], `${method}.${name}`).toBe('required')
        else expect(table[name], `${method}.${name}`).not.toBe('required')
      }
      for (const [name, status] of Object.entries(table)) {
        // Extras are only allowed as explicit refusals (e.g. subscription_period on sendInvoice).
        if (!(name in (specFields ?? {})))
          expect(status, `${method}.${name} is not in the spec`).toBe('unsupported')
      }
    },
  )
})

const typeSchemas: Array<[string, z.ZodObject, string[]]> = [
  ['User', UserSchema, []],
  ['PreCheckoutQuery', PreCheckoutQuerySchema, []],
  ['SuccessfulPayment', SuccessfulPaymentSchema, []],
  ['RefundedPayment', RefundedPaymentSchema, []],
  ['StarTransaction', StarTransactionSchema, []],
  ['StarTransactions', StarTransactionsSchema, []],
  // Older servers (and TELEGRAM.md) omit transaction_type; accepting its absence is deliberate.
  ['TransactionPartnerUser', TransactionPartnerUserSchema, ['transaction_type']],
  ['StarAmount', StarAmountSchema, []],
  ['WebhookInfo', WebhookInfoSchema, []],
  ['LabeledPrice', LabeledPriceSchema, []],
  // Bot API 10.1–10.3 Stars shapes (the subset defines them since it reached 10.3).
  ['AffiliateInfo', AffiliateInfoSchema, []],
  ['TransactionPartnerFragment', TransactionPartnerFragmentSchema, []],
  ['TransactionPartnerAffiliateProgram', TransactionPartnerAffiliateProgramSchema, []],
  ['TransactionPartnerTelegramAds', TransactionPartnerTelegramAdsSchema, []],
  ['TransactionPartnerTelegramApi', TransactionPartnerTelegramApiSchema, []],
  ['BotSubscriptionUpdated', BotSubscriptionUpdatedSchema, []],
  ['PaidMediaPurchased', PaidMediaPurchasedSchema, []],
  ['Invoice', InvoiceSchema, []],
]

describe('payment type schemas agree with the spec', () => {
  it.each(typeSchemas)(
    '%s has every spec field with the same requiredness',
    (name, schema, lenient) => {
      const fields = specTypes[name]
      expect(fields, `${name} missing from spec`).toBeDefined()
      const shape = schema.shape as Record<string, z.ZodType>
      for (const [field, info] of Object.entries(fields ?? {})) {
        const fieldSchema = shape[field]
        expect(fieldSchema, `${name}.${field} missing from the schema`).toBeDefined()
        const optional = fieldSchema?.safeParse(undefined).success
        const expectOptional = !info.required || lenient.includes(field)
        expect(optional, `${name}.${field} optional?`).toBe(expectOptional)
      }
      for (const field of Object.keys(shape)) {
        expect(fields, `${name}.${field} is not in the spec`).toHaveProperty(field)
      }
    },
  )
})

describe(`the subset is closed (${spec.version})`, () => {
  it('defines every type its methods, fields and unions refer to', () => {
    const unions = spec.unions as Record<string, string[]>
    const primitives = new Set(['Integer', 'String', 'Boolean', 'Float', 'True'])
    const refs = [
      ...Object.values(specMethods).flatMap((m) => [
        ...m.returns,
        ...Object.values(m.fields).flatMap((f) => f.types),
      ]),
      ...Object.values(specTypes).flatMap((fields) =>
        Object.values(fields).flatMap((f) => f.types),
      ),
      ...Object.values(unions).flat(),
    ].map((t) => t.replace(/^(Array of )+/, ''))
    const missing = [...new Set(refs)].filter(
      (name) => !primitives.has(name) && !(name in specTypes) && !(name in unions),
    )
    expect(missing).toEqual([])
    expect(specTypes.Update).toHaveProperty('subscription')
  })
})
