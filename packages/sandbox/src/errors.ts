/** A Bot API failure, serialised exactly as Telegram does: `{ ok: false, error_code, description }`. */
export class BotApiError extends Error {
  readonly errorCode: number
  readonly description: string

  constructor(errorCode: number, description: string) {
    super(description)
    this.name = 'BotApiError'
    this.errorCode = errorCode
    this.description = description
  }
}

export const badRequest = (text: string): BotApiError =>
  new BotApiError(400, `Bad Request: ${text}`)

export const QUERY_TOO_OLD = 'query is too old and response timeout expired or query ID is invalid'

export type SandboxErrorCode =
  | 'BAD_INPUT'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'TIMEOUT'
  | 'UNSUPPORTED_MEDIA_TYPE'

const httpStatusOf: Record<SandboxErrorCode, number> = {
  BAD_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TIMEOUT: 408,
}

/** A control-API failure (a test or the demo page asked for something impossible). */
export class SandboxError extends Error {
  readonly code: SandboxErrorCode

  constructor(code: SandboxErrorCode, message: string) {
    super(message)
    this.name = 'SandboxError'
    this.code = code
  }

  get httpStatus(): number {
    return httpStatusOf[this.code]
  }
}
