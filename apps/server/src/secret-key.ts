import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '@e-stars/api'
import { createSecrets, generateSecretKey, parseSecretKey, type Secrets } from '@e-stars/billing'
import { ConfigError, type Env } from './env.ts'

/**
 * The server's `SECRET_KEY` (signs order references, encrypts bot tokens). With PostgreSQL it
 * must be configured — every replica needs the same one. For the embedded demo (no DATABASE_URL)
 * a missing key is generated once and kept next to the data in `DATA_DIR/secret.key` (mode 600).
 */
export function loadSecretKey(env: Env, logger: Logger): Buffer {
  if (env.SECRET_KEY) {
    try {
      return parseSecretKey(env.SECRET_KEY)
    } catch (error) {
      throw new ConfigError(`Invalid configuration:\n  SECRET_KEY: ${(error as Error).message}`)
    }
  }
  if (env.DATABASE_URL)
    throw new ConfigError(
      'Invalid configuration:\n  SECRET_KEY: required with DATABASE_URL (every replica needs the same key); ' +
        'generate one with: openssl rand -base64 32',
    )
  const path = join(env.DATA_DIR, 'secret.key')
  if (existsSync(path)) {
    try {
      return parseSecretKey(readFileSync(path, 'utf8'))
    } catch (error) {
      throw new ConfigError(`${path}: ${(error as Error).message}`)
    }
  }
  mkdirSync(env.DATA_DIR, { recursive: true, mode: 0o700 })
  writeFileSync(path, `${generateSecretKey()}\n`, { mode: 0o600, flag: 'wx' })
  logger.info(
    { path },
    'generated a SECRET_KEY for the embedded database; back it up with the data',
  )
  return parseSecretKey(readFileSync(path, 'utf8'))
}

/**
 * `SECRET_KEY_PREVIOUS`, set while rotating: order references signed and secrets encrypted
 * with it still verify and decrypt; nothing new is written with it (docs/deploy.md, "Rotating
 * SECRET_KEY").
 */
export function loadPreviousSecretKey(env: Env): Buffer | null {
  if (!env.SECRET_KEY_PREVIOUS) return null
  try {
    return parseSecretKey(env.SECRET_KEY_PREVIOUS)
  } catch (error) {
    throw new ConfigError(
      `Invalid configuration:\n  SECRET_KEY_PREVIOUS: ${(error as Error).message}`,
    )
  }
}

/** The server's secrets: written with SECRET_KEY, read with it or SECRET_KEY_PREVIOUS. */
export function loadSecrets(env: Env, logger: Logger): Secrets {
  const previous = loadPreviousSecretKey(env)
  const current = loadSecretKey(env, logger)
  if (previous?.equals(current))
    throw new ConfigError(
      'Invalid configuration:\n  SECRET_KEY_PREVIOUS: is the same as SECRET_KEY; set it to the old key or remove it',
    )
  return createSecrets(current, previous)
}
