import type {
  TRPC_ERROR_CODE_KEY,
  TRPC_ERROR_CODE_NUMBER,
  TRPCBuiltRouter,
  TRPCDecorateCreateRouterOptions,
} from '@trpc/server'
import type { clientProcedures } from './root.ts'

/** The domain facts of a refusal, e.g. `{ code: 'INSUFFICIENT_CREDITS', available, required }`. */
export interface BillingErrorFacts {
  /** Stable: `INSUFFICIENT_CREDITS`, `QUOTA_EXCEEDED`, `IDEMPOTENCY_CONFLICT`, `NOT_FOUND`… */
  code: string
  [fact: string]: unknown
}

/** What `z.flattenError` makes of a rejected input. */
export interface InputErrors {
  formErrors: string[]
  fieldErrors: Record<string, string[] | undefined>
}

export interface EStarsErrorData {
  code: TRPC_ERROR_CODE_KEY
  httpStatus: number
  path: string | undefined
  /** Set when the server refused for a domain reason; `null` otherwise. */
  billing: BillingErrorFacts | null
  /** Set on `BAD_REQUEST` from input validation; `null` otherwise. */
  zodError: InputErrors | null
  /** The request's id (the `X-Request-Id` header): quote it to whoever runs the server. */
  requestId: string | null
}

/** The error every procedure sends: tRPC's shape with the domain facts in `data.billing`. */
export interface EStarsErrorShape {
  code: TRPC_ERROR_CODE_NUMBER
  message: string
  data: EStarsErrorData
}

/**
 * The e-Stars API as a client sees it: every procedure but the operator console's, without the
 * server's context, so a client's types reach no server internals (database, services).
 */
export type ClientRouter = TRPCBuiltRouter<
  { ctx: object; meta: object; errorShape: EStarsErrorShape; transformer: false },
  TRPCDecorateCreateRouterOptions<typeof clientProcedures>
>
