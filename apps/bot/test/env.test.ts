import { describe, expect, it } from 'vitest'
import { ConfigError, parseEnv } from '../src/env.ts'

describe('the bot configuration', () => {
  it('needs nothing for the demo: sandbox via the local e-Stars server, polling, offline model', () => {
    expect(parseEnv({})).toMatchObject({
      ESTARS_URL: 'http://127.0.0.1:3000',
      BOT_MODE: 'polling',
      PRECHECK_TIMEOUT_MS: 4000,
      MODEL_TIMEOUT_MS: 25_000,
    })
    expect(parseEnv({ MODEL_TIMEOUT_MS: '8000' }).MODEL_TIMEOUT_MS).toBe(8000)
    expect(() => parseEnv({ MODEL_TIMEOUT_MS: '10' })).toThrow(/MODEL_TIMEOUT_MS/)
    expect(parseEnv({}).TELEGRAM_BOT_TOKEN).toBeUndefined()
    expect(parseEnv({ OPENAI_BASE_URL: '' }).OPENAI_BASE_URL).toBeUndefined()
  })

  it('a real bot token needs an API key, and says how to make one', () => {
    expect(() => parseEnv({ TELEGRAM_BOT_TOKEN: '123456:ABC-def' })).toThrow(
      /ESTARS_API_KEY: required with TELEGRAM_BOT_TOKEN: create one with `pnpm cli key create/,
    )
    expect(
      parseEnv({ TELEGRAM_BOT_TOKEN: '123456:ABC-def', ESTARS_API_KEY: 'esk_0123456789' }),
    ).toMatchObject({ TELEGRAM_BOT_TOKEN: '123456:ABC-def' })
  })

  it('names every bad value', () => {
    try {
      parseEnv({ TELEGRAM_BOT_TOKEN: 'nope', BOT_MODE: 'webhook', PRECHECK_TIMEOUT_MS: '20000' })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      const message = (error as Error).message
      expect(message).toContain('TELEGRAM_BOT_TOKEN: must look like 123456789:AA…')
      expect(message).toContain('PRECHECK_TIMEOUT_MS')
    }
  })

  it('webhook mode needs an https URL and a secret', () => {
    expect(() => parseEnv({ BOT_MODE: 'webhook' })).toThrow(/WEBHOOK_URL: required/)
    expect(() =>
      parseEnv({ BOT_MODE: 'webhook', WEBHOOK_URL: 'http://bot.example.com/hook' }),
    ).toThrow(/WEBHOOK_URL: must be an https:\/\/ URL/)
    expect(
      parseEnv({
        BOT_MODE: 'webhook',
        WEBHOOK_URL: 'https://bot.example.com/hook',
        WEBHOOK_SECRET: 'a-long-enough-secret',
      }),
    ).toMatchObject({ BOT_MODE: 'webhook', WEBHOOK_PORT: 8443 })
  })
})
