import { createTestDatabase } from '@e-stars/db/testing'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const silent = { info() {}, warn() {}, error() {} }
let sandbox: Sandbox
let server: RunningServer

beforeAll(async () => {
  sandbox = await createSandbox({ users: [{ id: 2_000_001, firstName: 'Alice' }] })
  server = await startServer(parseEnv({ PORT: '0', SANDBOX_URL: sandbox.url }), silent, {
    database: await createTestDatabase(),
  })
})
afterAll(async () => {
  await server?.close()
  await sandbox?.close()
})

async function login() {
  const response = await fetch(`${server.url}/trpc/operator.auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(server.demoOperator),
  })
  const body = (await response.json()) as { result: { data: { csrfToken: string } } }
  return {
    cookie: response.headers.get('set-cookie')!.split(';')[0]!,
    csrf: body.result.data.csrfToken,
  }
}

describe('the console sandbox proxy', () => {
  it('is announced and answers operators only', async () => {
    expect(await (await fetch(`${server.url}/console-api/config`)).json()).toEqual({
      sandbox: true,
    })
    expect((await fetch(`${server.url}/console-api/sandbox/state`)).status).toBe(401)
    const { cookie } = await login()
    const state = await fetch(`${server.url}/console-api/sandbox/state`, { headers: { cookie } })
    expect(state.status).toBe(200)
    const body = (await state.json()) as { result: { users: Array<{ id: number }> } }
    expect(body.result.users.map((u) => u.id)).toEqual([2_000_001])
  })

  it('requires the CSRF token to act as a user, then relays the act and its errors', async () => {
    const { cookie, csrf } = await login()
    const send = (headers: Record<string, string>, body: unknown) =>
      fetch(`${server.url}/console-api/sandbox/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, ...headers },
        body: JSON.stringify(body),
      })
    expect((await send({}, { userId: 2_000_001, text: '/start' })).status).toBe(403)
    const sent = await send({ 'x-csrf-token': csrf }, { userId: 2_000_001, text: '/start' })
    expect(sent.status).toBe(200)
    expect(sandbox.transcript(2_000_001).map((m) => m.text)).toEqual(['/start'])
    const unknown = await send({ 'x-csrf-token': csrf }, { userId: 404, text: 'hi' })
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ ok: false })
  })
})
