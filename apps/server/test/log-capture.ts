/**
 * The server's real logger (src/logger.ts) writing into memory, and the check every suite can
 * run on what it wrote: no secret it knows of, and nothing shaped like one.
 */
import { createLogger } from '../src/logger.ts'

/** Shapes no log line may carry, whatever the values: keys, key prefixes, hashes, bot tokens. */
export const SECRET_SHAPES: Record<string, RegExp> = {
  'API key or key prefix': /esk_[A-Za-z0-9_-]{6,}/,
  'scrypt password hash': /scrypt\$/,
  // pnpm's store paths in stack frames carry a patch hash of the same shape.
  'SHA-256 hex (an API key hash)': /(?<!patch_hash=)\b[0-9a-f]{64}\b/,
  'Telegram bot token': /\b\d{5,20}:[A-Za-z0-9_-]{20,}/,
  'SQL parameters (drizzle)': /\bparams: /,
}

export function captureLogs() {
  const lines: string[] = []
  const logger = createLogger({
    level: 'trace',
    destination: {
      write(line: string) {
        lines.push(line)
      },
    },
  })
  return {
    logger,
    lines,
    /** Every secret value or secret shape found in the captured lines (and in `extra` text). */
    leaks(secrets: Record<string, string | null | undefined>, extra: string[] = []) {
      return findSecrets([...lines, ...extra], secrets)
    },
  }
}

export function findSecrets(
  lines: string[],
  secrets: Record<string, string | null | undefined>,
): string[] {
  const found: string[] = []
  for (const line of lines) {
    for (const [name, value] of Object.entries(secrets))
      if (value && line.includes(value)) found.push(`${name} in: ${line.slice(0, 300)}`)
    for (const [name, shape] of Object.entries(SECRET_SHAPES))
      if (shape.test(line)) found.push(`${name} in: ${line.slice(0, 300)}`)
  }
  return found
}
