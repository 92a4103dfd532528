/** The subset of pino's interface the middleware logs through; pass your pino logger. */
export interface Logger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/** Without a logger, warnings and errors still reach stderr: a lost payment must never be silent. */
export const consoleLogger: Logger = {
  info() {},
  warn(obj, msg) {
    console.warn(msg ?? '', obj)
  },
  error(obj, msg) {
    console.error(msg ?? '', obj)
  },
}

/** An error as a log field: name, message and the e-Stars code, never the request (it may hold a key). */
export function errorFields(error: unknown) {
  if (!(error instanceof Error)) return { message: String(error) }
  const data = (error as { data?: { code?: string; billing?: { code?: string } | null } }).data
  return {
    name: error.name,
    message: error.message,
    ...(data?.code ? { code: data.code } : {}),
    ...(data?.billing?.code ? { billingCode: data.billing.code } : {}),
  }
}
