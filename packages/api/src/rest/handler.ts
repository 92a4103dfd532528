import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '@e-stars/db'
import { TRPCError } from '@trpc/server'
import { getHTTPStatusCodeFromError } from '@trpc/server/http'
import { callProcedure, getErrorShape } from '@trpc/server/unstable-core-do-not-import'
import { z } from 'zod'
import { ApiKeyCache } from '../api-key-cache.ts'
import type { EStarsErrorShape } from '../client-router.ts'
import { appRouter } from '../root.ts'
import { createHttpContextFactory } from '../server.ts'
import type { ApiDependencies } from '../trpc.ts'
import { type RestRoute, restRoutes } from './routes.ts'

type HttpRequest = Parameters<ReturnType<typeof createHttpContextFactory>>[0]['req']

/** What the HTTP layer hands over: the body already parsed (JSON, at most the `/trpc` limit). */
export interface RestRequest extends HttpRequest {
  method: string
  /** The path below `/api/v1`, e.g. `/usage/consume`. */
  path: string
  query: URLSearchParams
  body: unknown
}

export interface RestResponse {
  status: number
  headers: Record<string, string>
  body: unknown
}

/** An RFC 9457 problem: `type`, `title`, `status`, `detail`, plus the domain's code and facts. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  /** The domain code (`INSUFFICIENT_CREDITS`, `IDEMPOTENCY_CONFLICT`…) or else tRPC's. */
  code: string
  /** The first invalid input field (BAD_REQUEST), e.g. `amount` or `successfulPayment.currency`. */
  field?: string
  errors?: { field: string; message: string }[]
  [fact: string]: unknown
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

const TITLES: Partial<Record<TRPCError['code'], string>> = {
  BAD_REQUEST: 'Bad request',
  UNAUTHORIZED: 'Unauthorized',
  FORBIDDEN: 'Forbidden',
  NOT_FOUND: 'Not found',
  METHOD_NOT_SUPPORTED: 'Method not allowed',
  CONFLICT: 'Conflict',
  PRECONDITION_FAILED: 'Precondition failed',
  PAYLOAD_TOO_LARGE: 'Payload too large',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  TOO_MANY_REQUESTS: 'Too many requests',
  SERVICE_UNAVAILABLE: 'Service unavailable',
  INTERNAL_SERVER_ERROR: 'Internal server error',
}

/** A problem's `type`: a URN per code, so clients can switch on it without a network lookup. */
export const problemType = (code: string) => `urn:e-stars:problem:${code.toLowerCase()}`

/**
 * Serves the bot procedures as REST: finds the route by method and path, builds the input from
 * the path, the query (GET) or the body (POST) and the `Idempotency-Key` header, and calls the
 * procedure through a tRPC caller with the context `/trpc` builds — so validation, the API key,
 * tenant scoping, idempotency and error mapping are the tRPC call's, and only the wire differs.
 */
export function createRestHandler(deps: ApiDependencies) {
  const routes = restRoutes()
  // One key cache for every REST request (the inner context would make one per request).
  const contextOf = createHttpContextFactory({
    ...deps,
    apiKeys: deps.apiKeys ?? new ApiKeyCache(),
  })
  return async function handle(req: RestRequest, res?: unknown): Promise<RestResponse> {
    const found = findRoute(routes, req.method, req.path)
    if (!found.route) return problemResponse(found.error)
    const { route, params } = found
    const ctx = contextOf({ req, res: res as never })
    let input: unknown
    try {
      input = inputOf(route, req, params)
      // By path, as `/trpc` calls it: a caller proxy would read `products.apply` as Function#apply.
      const body = await callProcedure({
        router: appRouter,
        path: route.procedure,
        getRawInput: async () => input,
        ctx,
        type: route.type,
        signal: undefined,
        batchIndex: 0,
      })
      return { status: 200, headers: {}, body }
    } catch (cause) {
      const error = cause instanceof TRPCError ? cause : internal(cause)
      const shape = getErrorShape({
        config: appRouter._def._config,
        error,
        type: route.type,
        path: route.procedure,
        input,
        ctx,
      }) as EStarsErrorShape
      return problemResponse(error, shape)
    }
  }
}

function internal(cause: unknown) {
  return new TRPCError({
    code: 'INTERNAL_SERVER_ERROR',
    cause: cause instanceof Error ? cause : undefined,
  })
}

type Found =
  | { route: RestRoute; params: Record<string, string>; error?: never }
  | { route?: never; error: TRPCError }

function findRoute(routes: RestRoute[], method: string, path: string): Found {
  let pathKnown = false
  for (const route of routes) {
    const params = route.match(path)
    if (!params) continue
    if (route.method === method) return { route, params }
    pathKnown = true
  }
  return pathKnown
    ? { error: new TRPCError({ code: 'METHOD_NOT_SUPPORTED', message: `${method} ${path}` }) }
    : { error: new TRPCError({ code: 'NOT_FOUND', message: `No route ${method} ${path}` }) }
}

/** Path parameters win over the body; a GET takes its input from the query string. */
function inputOf(route: RestRoute, req: RestRequest, params: Record<string, string>): unknown {
  if (!route.input) return undefined
  const shape = shapeOf(route.input)
  let fields: Record<string, unknown>
  if (route.method === 'GET') fields = fromQuery(req.query)
  else if (req.body === undefined || req.body === null || req.body === '') fields = {}
  else if (typeof req.body === 'object' && !Array.isArray(req.body))
    fields = { ...(req.body as Record<string, unknown>) }
  else throw badRequest('body', 'The body must be a JSON object')
  for (const [name, value] of Object.entries(params)) fields[name] = value
  if (route.method === 'GET' || Object.keys(params).length > 0)
    for (const [name, value] of Object.entries(fields))
      fields[name] = fromText(shape[name], value, name in params || route.method === 'GET')
  applyIdempotencyHeader(fields, shape, req.headers['idempotency-key'])
  return fields
}

/** `Idempotency-Key` fills `idempotencyKey`; both given and different is a mistake, not a choice. */
function applyIdempotencyHeader(
  fields: Record<string, unknown>,
  shape: Record<string, z.ZodType>,
  header: string | string[] | undefined,
) {
  if (header === undefined || !('idempotencyKey' in shape)) return
  const key = Array.isArray(header) ? header.join(',') : header
  if (fields.idempotencyKey !== undefined && fields.idempotencyKey !== key)
    throw badRequest('idempotencyKey', 'The Idempotency-Key header and idempotencyKey differ')
  fields.idempotencyKey = key
}

function fromQuery(query: URLSearchParams): Record<string, unknown> {
  const fields: Record<string, unknown> = {}
  for (const name of new Set(query.keys())) {
    const values = query.getAll(name)
    // A repeated parameter stays a list, which no scalar field accepts: refused, not guessed.
    fields[name] = values.length === 1 ? values[0] : values
  }
  return fields
}

/** The text of a query or path value as the field's type: a number only when it spells one. */
function fromText(field: z.ZodType | undefined, value: unknown, fromUrl: boolean): unknown {
  if (!fromUrl || typeof value !== 'string' || !field) return value
  const kind = baseKind(field)
  if (kind === 'number' && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value)) return Number(value)
  if (kind === 'boolean' && (value === 'true' || value === 'false')) return value === 'true'
  return value
}

type Def = { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: unknown }
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def

/** The field's type under optional, nullable, default and pipe wrappers. */
function baseKind(schema: z.ZodType): string {
  let def = defOf(schema)
  for (let depth = 0; depth < 10; depth++) {
    const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined)
    if (!inner) break
    def = defOf(inner)
  }
  return def.type
}

function shapeOf(schema: z.ZodType): Record<string, z.ZodType> {
  let current = schema
  for (let depth = 0; depth < 10; depth++) {
    if (current instanceof z.ZodObject) return current.shape as Record<string, z.ZodType>
    const inner = defOf(current).innerType
    if (!inner) break
    current = inner
  }
  return {}
}

/** A refusal of the REST layer's own (the body's shape, the header), worded like zod's. */
class RestInputError extends Error {
  readonly issues: { path: string[]; message: string }[]
  constructor(field: string, message: string) {
    super(message)
    this.issues = [{ path: [field], message }]
  }
}

function badRequest(field: string, message: string) {
  return new TRPCError({ code: 'BAD_REQUEST', message, cause: new RestInputError(field, message) })
}

/** The invalid fields of a BAD_REQUEST: zod's issues (or the REST layer's), with their paths. */
function issuesOf(error: TRPCError): { path: PropertyKey[]; message: string }[] {
  const cause = error.cause
  if (cause instanceof z.ZodError || cause instanceof RestInputError) return cause.issues
  return []
}

/** The problem+json answer for an error, with `Retry-After` on 503 and 429. */
export function problemResponse(error: TRPCError, shape?: EStarsErrorShape): RestResponse {
  const problem = problemOf(error, shape)
  const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE }
  const retryAfter = retryAfterOf(error)
  if (retryAfter !== null) headers['retry-after'] = String(retryAfter)
  if (problem.status === 401) headers['www-authenticate'] = 'Bearer'
  return { status: problem.status, headers, body: problem }
}

export function problemOf(error: TRPCError, shape?: EStarsErrorShape): Problem {
  const status = getHTTPStatusCodeFromError(error)
  const { code: billingCode, ...facts } = shape?.data.billing ?? {}
  const code = typeof billingCode === 'string' ? billingCode : error.code
  const problem: Problem = {
    ...facts,
    type: problemType(code),
    title: TITLES[error.code] ?? error.code,
    status,
    detail:
      shape?.message ??
      (error.code === 'INTERNAL_SERVER_ERROR' ? 'Internal server error' : error.message),
    code,
  }
  const issues = issuesOf(error)
  if (error.code === 'BAD_REQUEST' && issues.length > 0) {
    problem.errors = issues.map((issue) => ({
      field: issue.path.map(String).join('.') || 'body',
      message: issue.message,
    }))
    problem.field = problem.errors[0]?.field
    problem.detail = problem.errors.map((e) => `${e.field}: ${e.message}`).join('; ')
  }
  if (shape?.data.requestId) problem.requestId = shape.data.requestId
  return problem
}

function retryAfterOf(error: TRPCError): number | null {
  const seconds = (error.cause as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds
  if (typeof seconds === 'number') return Math.max(1, Math.ceil(seconds))
  if (error.code === 'SERVICE_UNAVAILABLE') return UNAVAILABLE_RETRY_AFTER_SECONDS
  return error.code === 'TOO_MANY_REQUESTS' ? 1 : null
}
