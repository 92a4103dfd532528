import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { authenticateApiKey, listApiKeys, revokeApiKey } from '@e-stars/billing'
import { afterEach, describe, expect, it } from 'vitest'
import { type DemoSandbox, sandboxWanted, startDemoSandbox } from '../src/demo.ts'
import { type Env, parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const silent = { info() {}, warn() {}, error() {} }
const DEMO_TOKEN = 'demo-token-of-this-test-run'

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

interface Running {
  demo: DemoSandbox
  server: RunningServer
}

/** What `main` starts in demo mode, on the embedded database in `dataDir` (a restart reuses it). */
async function startDemo(env: Env): Promise<Running> {
  const demo = await startDemoSandbox(env, silent)
  const server = await startServer(demo.env, silent, { extend: demo.mount })
  return { demo, server }
}

async function stop(running: Running | undefined) {
  await running?.server.close()
  await running?.demo.close()
}

const bootstrap = (server: RunningServer, init: RequestInit = {}) =>
  fetch(`${server.url}/demo/bootstrap`, {
    method: 'POST',
    ...init,
    headers: { authorization: `Bearer ${DEMO_TOKEN}`, ...init.headers },
  })

const apiKeyOf = async (response: Response) =>
  ((await response.json()) as { apiKey: string; projectId: string }).apiKey

describe('POST /demo/bootstrap', () => {
  const env = (extra: Record<string, string> = {}) =>
    parseEnv({
      PORT: '0',
      SANDBOX_PORT: '0',
      DEMO_DATA: 'off',
      RECONCILE_INTERVAL_SECONDS: '0',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'estars-demo-')),
      ESTARS_DEMO_TOKEN: DEMO_TOKEN,
      ...extra,
    })
  let running: Running | undefined
  afterEach(async () => {
    await stop(running)
    running = undefined
  })

  it('is refused on GET (what a web page or a redirect can trigger), and changes nothing', async () => {
    running = await startDemo(env())
    const { server } = running
    const got = await fetch(`${server.url}/demo/bootstrap`, {
      headers: { authorization: `Bearer ${DEMO_TOKEN}` },
    })
    expect(got.status).toBe(405)
    expect(got.headers.get('allow')).toBe('POST')
    expect(await listApiKeys(server.database.db, server.demoProjectId!)).toEqual([])
  })

  it('answers only the token of the process that started the demo', async () => {
    running = await startDemo(env())
    const { server } = running
    expect((await fetch(`${server.url}/demo/bootstrap`, { method: 'POST' })).status).toBe(403)
    const wrong = await bootstrap(server, {
      headers: { authorization: 'Bearer another-runs-token' },
    })
    expect(wrong.status).toBe(403)
    expect(await wrong.text()).not.toContain(DEMO_TOKEN)
    // Loopback through a proxy is not loopback: a forwarded client from elsewhere is refused.
    const forwarded = await bootstrap(server, { headers: { 'x-forwarded-for': '203.0.113.9' } })
    expect(forwarded.status).toBe(403)
    expect(await listApiKeys(server.database.db, server.demoProjectId!)).toEqual([])
  })

  it('refuses everyone when the server was started without a demo token', async () => {
    running = await startDemo(env({ ESTARS_DEMO_TOKEN: '' }))
    const refused = await bootstrap(running.server)
    expect(refused.status).toBe(403)
    expect(await refused.json()).toMatchObject({
      error: expect.stringMatching(/ESTARS_DEMO_TOKEN/),
    })
  })

  it('is idempotent: a second bootstrap and a restart hand out the same key, and none is revoked', async () => {
    const settings = env()
    running = await startDemo(settings)
    const first = await apiKeyOf(await bootstrap(running.server))
    const again = await apiKeyOf(await bootstrap(running.server))
    expect(again).toBe(first)
    await stop(running)

    running = await startDemo(settings)
    const { server } = running
    const afterRestart = await apiKeyOf(await bootstrap(server))
    expect(afterRestart).toBe(first)
    const holder = await authenticateApiKey(server.database.db, first)
    expect(holder).toMatchObject({ projectId: expect.any(String) })
    const keys = await listApiKeys(server.database.db, holder!.projectId)
    expect(keys.map((k) => k.revokedAt)).toEqual([null])
  })

  it('issues a new key only after an operator revoked the one it handed out', async () => {
    running = await startDemo(env())
    const { server } = running
    const db = server.database.db
    const first = await apiKeyOf(await bootstrap(server))
    const projectId = (await authenticateApiKey(db, first))!.projectId
    const [issued] = await listApiKeys(db, projectId)
    await revokeApiKey(db, { projectId, keyId: issued!.id })
    const second = await apiKeyOf(await bootstrap(server))
    expect(second).not.toBe(first)
    expect(await authenticateApiKey(db, second)).toMatchObject({ projectId })
  })

  it('gives the sandbox its control token and the console proxy the same one', async () => {
    running = await startDemo(env({ SANDBOX_TOKEN: 'sandbox-token-of-this-run' }))
    const { demo } = running
    expect(demo.sandbox.controlToken).toBe('sandbox-token-of-this-run')
    expect(demo.env.SANDBOX_TOKEN).toBe('sandbox-token-of-this-run')
    const body = (await (await bootstrap(running.server)).json()) as Record<string, unknown>
    expect(JSON.stringify(body)).not.toContain('sandbox-token-of-this-run')
  })
})
