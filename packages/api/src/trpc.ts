import { authenticateApiKey, BillingError } from '@e-stars/billing'
import type { Db } from '@e-stars/db'
import { initTRPC, TRPCError } from '@trpc/server'
import { z } from 'zod'
import { ApiKeyCache } from './api-key-cache.ts'
import { toTRPCError } from './errors.ts'

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
}

/** Plain values only: used by the HTTP adapter, by tests and by the in-process caller. */
export interface InnerContextInput {
  apiKey?: string | null | undefined
}

export function createInnerContext(deps: ApiDependencies, input: InnerContextInput) {
  return {
    db: deps.db,
    logger: deps.logger,
    apiKeys: deps.apiKeys ?? new ApiKeyCache(),
    apiKey: input.apiKey ?? null,
  }
}

export type Context = ReturnType<typeof createInnerContext>

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause
    return {
      ...shape,
      message: error.code === 'INTERNAL_SERVER_ERROR' ? 'Internal server error' : shape.message,
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path,
        billing: cause instanceof BillingError ? billingFacts(cause) : null,
        zodError:
          error.code === 'BAD_REQUEST' && cause instanceof z.ZodError
            ? z.flattenError(cause)
            : null,
      },
    }
  },
})

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

/** Maps domain errors to tRPC codes and logs anything unexpected, once, with the procedure path. */
const errors = t.middleware(async ({ ctx, next, path }) => {
  const result = await next()
  if (result.ok) return result
  const cause = result.error.cause
  if (cause instanceof BillingError) return { ...result, error: toTRPCError(cause) }
  if (result.error.code === 'INTERNAL_SERVER_ERROR')
    ctx.logger.error({ err: cause ?? result.error, path }, 'unexpected error')
  return result
})

export const publicProcedure = t.procedure.use(errors)

/** Authenticated by `Authorization: Bearer <project API key>`; narrows `ctx.project`. */
export const botProcedure = publicProcedure.use(async ({ ctx, next }) => {
  if (!ctx.apiKey)
    throw new TRPCError({
      code: 'UNAUTHORIZED',
      message: 'Missing API key: send Authorization: Bearer <key>',
    })
  const project = await ctx.apiKeys.resolve(ctx.apiKey, (key) => authenticateApiKey(ctx.db, key))
  if (!project) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Unknown or revoked API key' })
  return next({ ctx: { ...ctx, project: { id: project.projectId, keyId: project.keyId } } })
})
