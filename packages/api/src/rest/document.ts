import type { AnyProcedure } from '@trpc/server'
import { generateOpenApiDocument, type OpenAPIObject, type OpenApiRouter } from 'trpc-to-openapi'
import { z } from 'zod'
import { appRouter } from '../root.ts'
import { TEXT_LIMITS } from '../text.ts'
import { PROBLEM_CONTENT_TYPE } from './handler.ts'

/** Where REST is mounted; every path of the document is below it. */
export const REST_BASE_PATH = '/api/v1'

/** The error statuses a bot route can answer, each as problem+json. */
const ERROR_STATUSES = {
  400: 'Invalid input: `field` names the first invalid field, `errors` lists them all',
  401: 'Missing, unknown or revoked API key',
  403: 'Forbidden (a blocked customer, a feature without entitlement, a customer token)',
  404: 'Not found',
  409: 'Conflict: the idempotency key was used with another input, or a hold is no longer active',
  412: 'Precondition failed: insufficient credits (`available`, `required`) or quota (`resetsAt`)',
  429: 'Too many requests: wait `Retry-After` seconds',
  503: 'The database is unavailable for a moment: retry after `Retry-After` with the same key',
} as const

type SchemaObject = NonNullable<NonNullable<OpenAPIObject['components']>['schemas']>[string]

const problemSchema: SchemaObject = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', examples: ['urn:e-stars:problem:insufficient_credits'] },
    title: { type: 'string', examples: ['Precondition failed'] },
    status: { type: 'integer', examples: [412] },
    detail: { type: 'string' },
    code: { type: 'string', examples: ['INSUFFICIENT_CREDITS'] },
    field: { type: 'string', description: 'BAD_REQUEST: the first invalid field' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['field', 'message'],
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
    available: { type: 'integer', description: 'INSUFFICIENT_CREDITS' },
    required: { type: 'integer', description: 'INSUFFICIENT_CREDITS' },
    resetsAt: { type: 'string', format: 'date-time', description: 'QUOTA_EXCEEDED' },
    requestId: {
      type: 'string',
      description: 'The request id (the X-Request-Id response header): quote it to the operator',
    },
  },
  additionalProperties: true,
}

/**
 * The engine's result types are TypeScript, not zod, so a response is documented by its
 * description; a zod `.output()` would also re-validate (and strip) every tRPC answer.
 */
const documentedOutput = z.looseObject({}).meta({ description: 'The procedure’s result' })

/** The bot routes of `appRouter`, each given the documentation-only output above. */
function documentedRouter() {
  const procedures: Record<string, unknown> = {}
  for (const [name, procedure] of Object.entries(
    appRouter._def.procedures as unknown as Record<string, AnyProcedure>,
  )) {
    const def = procedure._def as unknown as { meta?: { openapi?: unknown }; output?: unknown }
    if (!def.meta?.openapi) continue
    procedures[name] = { ...procedure, _def: { ...def, output: def.output ?? documentedOutput } }
  }
  return { _def: { ...appRouter._def, procedures } } as unknown as OpenApiRouter
}

/** The OpenAPI 3.1 document of `/api/v1`, generated from the same routers and zod schemas. */
export function openApiDocument(baseUrl = REST_BASE_PATH): OpenAPIObject {
  const document = generateOpenApiDocument(documentedRouter(), {
    title: 'e-Stars REST API',
    description:
      'Billing for Telegram bots: credits, usage, access, invoices and payments. Every call ' +
      'takes `Authorization: Bearer <API key>`; mutations take an idempotency key (the ' +
      '`idempotencyKey` field or the `Idempotency-Key` header): the same key and input replays ' +
      'the first result, the same key with another input answers 409. Errors are ' +
      'application/problem+json (RFC 9457).',
    version: '1.0.0',
    openApiVersion: '3.1.0',
    baseUrl,
    securitySchemes: {
      apiKey: { type: 'http', scheme: 'bearer', description: 'A project API key (`esk_…`)' },
    },
  })
  return withProblems(document)
}

/** Request examples of the calls a bot makes most (by operationId). */
const REQUEST_EXAMPLES: Record<string, unknown> = {
  'usage-consume': {
    telegramUserId: 42,
    amount: 10,
    reason: 'AI answer',
    idempotencyKey: 'msg-42-1001',
  },
  'usage-reserve': {
    telegramUserId: 42,
    amount: 50,
    reason: 'AI answer',
    idempotencyKey: 'hold-42-1001',
    ttlSeconds: 300,
  },
  'usage-settle': {
    holdId: '0b6f7a52-2c1e-4d59-9f3e-7c1d3e0a9b21',
    amount: 12,
    idempotencyKey: 'settle-42-1001',
  },
  'invoices-create': { telegramUserId: 42, productKey: 'pack_m' },
  'payments-record': {
    successfulPayment: {
      currency: 'XTR',
      total_amount: 100,
      invoice_payload: '<the payload from invoices.create>',
      telegram_payment_charge_id: '<from Telegram>',
    },
    from: { id: 42, is_bot: false, first_name: 'Ada' },
  },
}

/** Every operation's errors become the one problem+json shape; mutations get `Idempotency-Key`. */
function withProblems(document: OpenAPIObject): OpenAPIObject {
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, Problem: problemSchema },
    responses: Object.fromEntries(
      Object.entries(ERROR_STATUSES).map(([status, description]) => [
        `Problem${status}`,
        {
          description,
          content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
          ...(status === '429' || status === '503'
            ? { headers: { 'Retry-After': { schema: { type: 'integer' } } } }
            : {}),
        },
      ]),
    ),
  }
  for (const item of Object.values(document.paths ?? {}))
    for (const operation of [item.get, item.post]) {
      if (!operation) continue
      operation.responses = {
        200: operation.responses?.[200],
        ...Object.fromEntries(
          Object.keys(ERROR_STATUSES).map((status) => [
            status,
            { $ref: `#/components/responses/Problem${status}` },
          ]),
        ),
      }
      const body = operation.requestBody as
        | { content?: Record<string, { schema?: { properties?: object; required?: string[] } }> }
        | undefined
      const media = body?.content?.['application/json'] as { example?: unknown } | undefined
      const example = REQUEST_EXAMPLES[operation.operationId ?? '']
      if (media && example) media.example = example
      const schema = body?.content?.['application/json']?.schema
      if (schema?.properties && 'idempotencyKey' in schema.properties) {
        // Either the field or the header: the body alone no longer has to carry it.
        schema.required = schema.required?.filter((name) => name !== 'idempotencyKey')
        operation.parameters = [
          ...(operation.parameters ?? []),
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: 'Instead of the `idempotencyKey` field (both given must be equal)',
            schema: { type: 'string', minLength: 1, maxLength: TEXT_LIMITS.idempotencyKey },
          },
        ]
      }
    }
  return document
}
