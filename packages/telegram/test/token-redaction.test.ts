import { inspect } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { createBotApi, TelegramError } from '../src/index.ts'
import { TOKEN } from './fixtures.ts'
import { fail, ok, startStub } from './stub-server.ts'

let stub: Awaited<ReturnType<typeof startStub>> | undefined
afterEach(async () => {
  await stub?.close()
  stub = undefined
})

const SECRET_PART = TOKEN.split(':')[1] ?? ''

/** Every way an error usually reaches a log line, across the whole cause chain. */
function renderings(error: unknown): string[] {
  const out: string[] = [
    String(error),
    JSON.stringify(error) ?? '',
    inspect(error, { depth: 10, showHidden: true }),
  ]
  let current: unknown = error
  for (let depth = 0; current !== undefined && depth < 10; depth++) {
    if (current instanceof Error) {
      out.push(String(current), current.message, current.stack ?? '', JSON.stringify(current) ?? '')
      out.push(
        JSON.stringify(
          Object.getOwnPropertyNames(current).map((k) => [
            k,
            String(Reflect.get(current as object, k)),
          ]),
        ),
      )
      current = current.cause
    } else {
      out.push(String(current), JSON.stringify(current) ?? '')
      current = undefined
    }
  }
  return out
}

function expectNoToken(error: unknown) {
  expect(error).toBeInstanceOf(TelegramError)
  for (const text of renderings(error)) {
    expect(text).not.toContain(TOKEN)
    expect(text).not.toContain(SECRET_PART)
    expect(text).not.toContain(encodeURIComponent(TOKEN))
  }
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected the call to fail')
}

describe('the bot token never leaks through errors', () => {
  it('self-check: the renderings do contain a token when it is there', () => {
    const leaky = new Error('outer', { cause: new Error(`GET /bot${TOKEN}/getMe`) })
    expect(renderings(leaky).some((text) => text.includes(TOKEN))).toBe(true)
  })

  it('API error whose description echoes the token (e.g. a proxy)', async () => {
    stub = await startStub(() =>
      fail(401, `Unauthorized: bad token ${TOKEN} at /bot${TOKEN}/getMe`),
    )
    const api = createBotApi({ token: TOKEN, apiRoot: stub.apiRoot, retry: false })
    const error = await caught(api.getMe())
    expectNoToken(error)
    expect((error as Error).message).toContain('<redacted>')
  })

  it('connection refused', async () => {
    const probe = await startStub(() => ok(true))
    await probe.close()
    const api = createBotApi({ token: TOKEN, apiRoot: probe.apiRoot, retry: false })
    expectNoToken(await caught(api.getMe()))
  })

  it('timeout', async () => {
    stub = await startStub(() => ({ hang: true }))
    const api = createBotApi({ token: TOKEN, apiRoot: stub.apiRoot, timeoutMs: 50, retry: false })
    expectNoToken(
      await caught(api.refundStarPayment({ user_id: 1, telegram_payment_charge_id: 'x' })),
    )
  })

  it('an apiRoot fetch cannot parse (undici quotes the full URL, token included)', async () => {
    const api = createBotApi({ token: TOKEN, apiRoot: 'not a url', retry: false })
    const error = await caught(api.getMe())
    expectNoToken(error)
  })

  it('a fetch implementation that puts the URL in its message, properties and causes', async () => {
    const leakyFetch: typeof fetch = async (input) => {
      const url = String(input)
      const inner = Object.assign(new Error(`socket hang up ${url}`), { code: 'ECONNRESET', url })
      throw Object.assign(new TypeError(`request to ${url} failed`, { cause: inner }), {
        input: url,
      })
    }
    const api = createBotApi({ token: TOKEN, fetch: leakyFetch, retry: false })
    const error = await caught(api.getStarTransactions())
    expectNoToken(error)
    // The useful part survives.
    expect((error as Error).message).toContain('ECONNRESET')
  })

  it('a non-JSON reply that echoes the URL', async () => {
    stub = await startStub((r) => ({ raw: `<h1>Bad gateway for ${r.path}</h1>`, status: 502 }))
    const api = createBotApi({ token: TOKEN, apiRoot: stub.apiRoot, retry: false })
    expectNoToken(await caught(api.getMe()))
  })

  it('the api object itself does not expose the token', () => {
    const api = createBotApi({ token: TOKEN })
    expect(inspect(api, { depth: 10, showHidden: true })).not.toContain(SECRET_PART)
    expect(JSON.stringify(api)).not.toContain(SECRET_PART)
  })
})
