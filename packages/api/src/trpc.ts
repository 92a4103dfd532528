import {
  authenticateApiKey,
  authenticateCustomerSession,
  authenticateSession,
  BillingError,
  type CustomerSessionPolicy,
  csrfMatches,
  DEFAULT_CUSTOMER_SESSION_POLICY,
  membershipOf,
  type TargetRule,
} from '@e-stars/billing'
import { type Db, isDatabaseUnavailable, serializeError } from '@e-stars/db'
import { initTRPC, TRPCError } from '@trpc/server'
import { z } from 'zod'
import { ApiKeyCache } from './api-key-cache.ts'
import type { EStarsErrorShape } from './client-router.ts'
import { toTRPCError } from './errors.ts'
import type { AttemptLimits } from './limits.ts'
import type { PaymentServices } from './payment-services.ts'
import type { RestMeta } from './rest/route.ts'

/** The subset of pino's interface the API uses, so tests can pass a silent logger. */
export interface Logger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface ApiDependencies {
  db: Db
  logger: Logger
  apiKeys?: ApiKeyCache
  /** Secrets and Telegram access for invoices, refunds and reconciliation; absent: those refuse. */
  payments?: PaymentServices | undefined
  /** Mini App sign-in: how old init data may be, how long a customer token lives. */
  customerSessions?: CustomerSessionPolicy | undefined
  /** Counters for Mini App sign-in and console login; absent (in-process callers): unlimited. */
  limits?: AttemptLimits | undefined
  /** Which relay targets an owner may store: the server's outbound rule (ALLOW_PRIVATE_TARGETS). */
  targetRule?: TargetRule | undefined
}

/** Sets or clears the console's session cookie; the HTTP layer writes `Set-Cookie`. */
export interface SessionCookie {
  set(token: string, expiresAt: Date): void
  clear(): void
}

/** Plain values only: used by the HTTP adapter, by tests and by the in-process caller. */
export interface InnerContextInput {
  apiKey?: string | null | undefined
  /** A Mini App customer token (`ecs.…`), from `Authorization: Bearer`. */
  customerToken?: string | null | undefined
  /** The console session token from the cookie. */
  sessionToken?: string | null | undefined
  /** The `x-csrf-token` header: must equal the session's token on every operator mutation. */
  csrfToken?: string | null | undefined
  /** The caller's address, for login rate limiting. */
  clientIp?: string | null | undefined
  sessionCookie?: SessionCookie | undefined
  /** The request's id (`X-Request-Id`, set by the server), echoed in every error body. */
  requestId?: string | null | undefined
}

const noCookie: SessionCookie = { set() {}, clear() {} }

export function createInnerContext(deps: ApiDependencies, input: InnerContextInput) {
  return {
    db: deps.db,
    logger: deps.logger,
    apiKeys: deps.apiKeys ?? new ApiKeyCache(),
    payments: deps.payments ?? null,
    apiKey: input.apiKey ?? null,
    customerToken: input.customerToken ?? null,
    customerSessionPolicy: deps.customerSessions ?? DEFAULT_CUSTOMER_SESSION_POLICY,
    limits: deps.limits ?? null,
    targetRule: deps.targetRule,
    sessionToken: input.sessionToken ?? null,
    csrfToken: input.csrfToken ?? null,
    clientIp: input.clientIp ?? 'unknown',
    sessionCookie: input.sessionCookie ?? noCookie,
    requestId: input.requestId ?? null,
  }
}

export type Context = ReturnType<typeof createInnerContext>

// `meta` says where a bot procedure is also served as REST (rest/route.ts).
const builder = initTRPC.context<Context>().meta<RestMeta>()
const t = builder.create({
  errorFormatter({ shape, error, ctx }): EStarsErrorShape {
    const cause = error.cause
    return {
      ...shape,
      message: messageFor(error.code, shape.message),
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path,
        billing: cause instanceof BillingError ? billingFacts(cause) : null,
        zodError:
          error.code === 'BAD_REQUEST' && cause instanceof z.ZodError
            ? z.flattenError(cause)
            : null,
        requestId: ctx?.requestId ?? null,
      },
    }
  },
})

/** What the caller reads: never an unexpected error's own text. */
function messageFor(code: TRPCError['code'], message: string): string {
  if (code === 'INTERNAL_SERVER_ERROR') return 'Internal server error'
  if (code === 'PAYLOAD_TOO_LARGE')
    return 'Request body too large: send fewer calls per batch or smaller inputs'
  return message
}

/** The stable code and the facts of a domain error, e.g. `{ code: 'INSUFFICIENT_CREDITS', available, required }`. */
function billingFacts(error: BillingError) {
  const {
    name: _name,
    message: _message,
    stack: _stack,
    ...facts
  } = error as BillingError & Record<string, unknown>
  return { ...facts, code: error.code } as { code: string } & Record<string, unknown>
}

export const createCallerFactory = t.createCallerFactory
export const router = t.router

/** What a caller is told while the database is unreachable (the HTTP layer adds `Retry-After`). */
export const DATABASE_UNAVAILABLE_MESSAGE =
  'The database is unavailable for a moment: retry shortly with the same idempotency key'

/**
 * Maps domain errors to tRPC codes, a database that cannot be reached to a retryable
 * SERVICE_UNAVAILABLE, and logs anything unexpected, once, with the procedure path (the
 * database's code, constraint and message; never the SQL parameters).
 */
const errors = t.middleware(async ({ ctx, next, path }) => {
  const result = await next()
  if (result.ok) return result
  const cause = result.error.cause
  if (cause instanceof BillingError) return { ...result, error: toTRPCError(cause) }
  if (result.error.code === 'INTERNAL_SERVER_ERROR' && isDatabaseUnavailable(cause)) {
    ctx.logger.warn({ err: serializeError(cause), path }, 'database unavailable')
    const error = new TRPCError({
      code: 'SERVICE_UNAVAILABLE',
      message: DATABASE_UNAVAILABLE_MESSAGE,
      cause,
    })
    return { ...result, error }
  }
  if (result.error.code === 'INTERNAL_SERVER_ERROR')
    ctx.logger.error({ err: serializeError(cause ?? result.error), path }, 'unexpected error')
  return result
})

export const publicProcedure = t.procedure.use(errors)

/** Authenticated by `Authorization: Bearer <project API key>`; narrows `ctx.project`. */
export const botProcedure = publicProcedure.use(async ({ ctx, next }) => {
  if (ctx.customerToken && !ctx.apiKey) throw customerTokenRefused('bot')
  if (!ctx.apiKey)
    throw new TRPCError({
      code: 'UNAUTHORIZED',
      message: 'Missing API key: send Authorization: Bearer <key>',
    })
  const project = await ctx.apiKeys.resolve(ctx.apiKey, (key) => authenticateApiKey(ctx.db, key))
  if (!project) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Unknown or revoked API key' })
  return next({ ctx: { ...ctx, project: { id: project.projectId, keyId: project.keyId } } })
})

/**
 * Authenticated by the console's session cookie; narrows `ctx.operator`. API keys are refused
 * (a bot never acts as an operator), and every mutation must echo the session's CSRF token.
 */
export const operatorProcedure = publicProcedure.use(async ({ ctx, next, type }) => {
  if (ctx.customerToken) throw customerTokenRefused('operator')
  if (ctx.apiKey)
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: 'API keys cannot call operator procedures: log in to the console',
    })
  if (!ctx.sessionToken) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Not logged in' })
  const session = await authenticateSession(ctx.db, ctx.sessionToken)
  if (!session) {
    ctx.sessionCookie.clear()
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Session expired: log in again' })
  }
  if (type === 'mutation' && !csrfMatches(session.csrfToken, ctx.csrfToken))
    throw new TRPCError({ code: 'FORBIDDEN', message: 'Missing or wrong x-csrf-token header' })
  if (session.renewed) ctx.sessionCookie.set(ctx.sessionToken, new Date(session.expiresAt))
  return next({
    ctx: {
      ...ctx,
      operator: session.operator,
      session: { csrfToken: session.csrfToken, expiresAt: session.expiresAt },
      actor: `operator:${session.operator.email}`,
    },
  })
})

/** An operator procedure about one project (`input.projectId`); members only. */
export const projectProcedure = operatorProcedure
  .input(z.object({ projectId: z.uuid() }))
  .use(async ({ ctx, input, next }) => {
    const role = await membershipOf(ctx.db, ctx.operator.id, input.projectId)
    if (!role)
      throw new TRPCError({ code: 'FORBIDDEN', message: 'You are not a member of this project' })
    return next({ ctx: { ...ctx, project: { id: input.projectId, role } } })
  })

/** Changes to a project: owners only (viewers read). */
export const ownerProcedure = projectProcedure.use(({ ctx, next }) => {
  if (ctx.project.role !== 'owner')
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: 'Viewers can look but not change anything: ask an owner',
    })
  return next()
})

const customerTokenRefused = (kind: 'bot' | 'operator') =>
  new TRPCError({
    code: 'FORBIDDEN',
    message: `A Mini App customer token cannot call ${kind} procedures: only me.*`,
  })

/**
 * Authenticated by a Mini App customer token (`Authorization: Bearer ecs.…`, from
 * `miniApp.signIn`); narrows `ctx.customer` to exactly one project and one customer. Project API
 * keys are refused: a bot acts for any user, a customer token only for its own.
 */
export const customerProcedure = publicProcedure.use(async ({ ctx, next }) => {
  if (ctx.apiKey)
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: 'API keys cannot call me.*: they are for the Mini App user, with a customer token',
    })
  if (!ctx.customerToken)
    throw new TRPCError({
      code: 'UNAUTHORIZED',
      message: 'Missing customer token: sign in with miniApp.signIn and the Telegram init data',
    })
  const customer = await authenticateCustomerSession(ctx.db, ctx.customerToken)
  return next({ ctx: { ...ctx, customer } })
})
