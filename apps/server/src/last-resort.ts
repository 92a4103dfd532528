import { serializeError } from '@e-stars/db'

interface FatalLogger {
  error(obj: object, msg?: string): void
  fatal?(obj: object, msg?: string): void
}

export interface LastResortOptions {
  /** Replaced in tests; the process exits with this code (non-zero) after the one log line. */
  exit?: (code: number) => void
  exitCode?: number
}

/**
 * The last line of defence: an exception nobody caught (thrown from a timer or a socket
 * callback) or a promise rejection nobody handled leaves the process in an unknown state, so it
 * logs one line and exits non-zero for the supervisor (systemd, Kubernetes, Docker) to restart
 * it, rather than limping on with half a request handled. Not a recovery path: every known
 * failure is handled where it happens (a database outage answers 503). Returns an uninstaller.
 */
export function installLastResort(logger: FatalLogger, options: LastResortOptions = {}) {
  const exit = options.exit ?? ((code: number) => process.exit(code))
  const exitCode = options.exitCode ?? 1
  let fired = false
  const handler = (kind: 'uncaughtException' | 'unhandledRejection') => (error: unknown) => {
    if (fired) return
    fired = true
    const line = { kind, err: serializeError(error) }
    const message = `${kind}: exiting for the supervisor to restart`
    try {
      if (logger.fatal) logger.fatal(line, message)
      else logger.error(line, message)
    } catch {
      // The logger itself failed: say it on stderr, still exit.
      process.stderr.write(
        `${message}: ${error instanceof Error ? error.message : String(error)}\n`,
      )
    }
    exit(exitCode)
  }
  const onException = handler('uncaughtException')
  const onRejection = handler('unhandledRejection')
  process.on('uncaughtException', onException)
  process.on('unhandledRejection', onRejection)
  return () => {
    process.off('uncaughtException', onException)
    process.off('unhandledRejection', onRejection)
  }
}
