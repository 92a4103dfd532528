import { describe, expect, it } from 'vitest'
import { sandboxWanted } from '../src/demo.ts'
import { parseEnv } from '../src/env.ts'

describe('demo sandbox mode', () => {
  it('is on for the zero-configuration start and off as soon as real Telegram or PostgreSQL is configured', () => {
    expect(sandboxWanted(parseEnv({}))).toBe(true)
    expect(sandboxWanted(parseEnv({ TELEGRAM_BOT_TOKEN: '123:abc' }))).toBe(false)
    expect(sandboxWanted(parseEnv({ DATABASE_URL: 'postgres://u@localhost/db' }))).toBe(false)
    expect(sandboxWanted(parseEnv({ SANDBOX: 'off' }))).toBe(false)
    expect(
      sandboxWanted(parseEnv({ SANDBOX: 'on', DATABASE_URL: 'postgres://u@localhost/db' })),
    ).toBe(true)
  })

  it('rejects a bad switch value by name', () => {
    expect(() => parseEnv({ SANDBOX: 'maybe' })).toThrow(/SANDBOX/)
  })
})
