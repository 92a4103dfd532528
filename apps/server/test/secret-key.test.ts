import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, parseEnv } from '../src/env.ts'
import { loadSecretKey } from '../src/secret-key.ts'

const logs: string[] = []
const logger = { info: (_: object, msg?: string) => logs.push(msg ?? ''), warn() {}, error() {} }

describe('SECRET_KEY', () => {
  it('embedded demo without a key: generates one into DATA_DIR/secret.key (mode 600) once, then reuses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'estars-'))
    const first = loadSecretKey(parseEnv({ DATA_DIR: dir }), logger)
    const path = join(dir, 'secret.key')
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(first.length).toBeGreaterThanOrEqual(32)
    expect(logs.some((l) => l.includes('generated a SECRET_KEY'))).toBe(true)
    expect(loadSecretKey(parseEnv({ DATA_DIR: dir }), logger).equals(first)).toBe(true)
    expect(readFileSync(path, 'utf8').trim().length).toBeGreaterThan(40)
  })

  it('with DATABASE_URL the key is required: a clear configuration error', () => {
    const env = parseEnv({ DATABASE_URL: 'postgres://x@127.0.0.1/db' })
    expect(() => loadSecretKey(env, logger)).toThrow(ConfigError)
    expect(() => loadSecretKey(env, logger)).toThrow(/SECRET_KEY: required with DATABASE_URL/)
  })

  it('a key shorter than 32 bytes is refused, naming the variable', () => {
    expect(() => loadSecretKey(parseEnv({ SECRET_KEY: 'c2hvcnQ=' }), logger)).toThrow(
      /SECRET_KEY: must be at least 32 bytes/,
    )
    const hex = 'ab'.repeat(32)
    expect(loadSecretKey(parseEnv({ SECRET_KEY: hex }), logger)).toHaveLength(32)
  })
})
