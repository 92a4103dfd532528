import { request } from 'node:http'
import { createOperator, createProject } from '@e-stars/billing'
import { createTestDatabase } from '@e-stars/db/testing'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const silent = { info() {}, warn() {}, error() {} }
const VIEWER = { email: 'viewer@e-stars.test', password: 'viewer password' }
const OTHER_OWNER = { email: 'other-owner@e-stars.test', password: 'other owner password' }
let sandbox: Sandbox
let server: RunningServer

beforeAll(async () => {
  sandbox = await createSandbox({ users: [{ id: 2_000_001, firstName: 'Alice' }] })
  const database = await createTestDatabase()
  server = await startServer(
    parseEnv({ PORT: '0', SANDBOX_URL: sandbox.url, SANDBOX_TOKEN: sandbox.controlToken }),
    silent,
    { database },
  )
  await createOperator(database.db, { ...VIEWER, projectId: server.demoProjectId!, role: 'viewer' })
  const other = await createProject(database.db, { name: 'Another bot' })
  await createOperator(database.db, { ...OTHER_OWNER, projectId: other.id, role: 'owner' })
})
afterAll(async () => {
  await server?.close()
  await sandbox?.close()
})

async function login(who: { email: string; password: string } = server.demoOperator!) {
  const response = await fetch(`${server.url}/trpc/operator.auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(who),
  })
  const body = (await response.json()) as { result: { data: { csrfToken: string } } }
  return {
    cookie: response.headers.get('set-cookie')!.split(';')[0]!,
    csrf: body.result.data.csrfToken,
  }
}

/** A GET with its path sent exactly as written (no dot-segment resolution). */
function rawGet(path: string, cookie: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(server.url)
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, headers: { cookie } }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

const post = (path: string, headers: Record<string, string>, body: string) =>
  fetch(`${server.url}/console-api/sandbox/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })

describe('the console sandbox proxy', () => {
  it('is announced and answers owners of the demo project, without bot tokens', async () => {
    expect(await (await fetch(`${server.url}/console-api/config`)).json()).toEqual({
      sandbox: true,
    })
    expect((await fetch(`${server.url}/console-api/sandbox/state`)).status).toBe(401)
    const { cookie } = await login()
    for (const query of ['', '?botTokens=true']) {
      const state = await fetch(`${server.url}/console-api/sandbox/state${query}`, {
        headers: { cookie },
      })
      expect(state.status).toBe(200)
      const text = await state.text()
      expect(text).not.toContain(sandbox.bot().token)
      const body = JSON.parse(text) as {
        result: { users: Array<{ id: number }>; bots: Array<Record<string, unknown>> }
      }
      expect(body.result.users.map((u) => u.id)).toEqual([2_000_001])
      expect(body.result.bots).toEqual([{ user: expect.objectContaining({ is_bot: true }) }])
    }
  })

  it('refuses a viewer of the demo project and the owner of another project', async () => {
    for (const who of [VIEWER, OTHER_OWNER]) {
      const { cookie, csrf } = await login(who)
      const state = await fetch(`${server.url}/console-api/sandbox/state`, { headers: { cookie } })
      expect(state.status).toBe(403)
      const sent = await post(
        'messages',
        { cookie, 'x-csrf-token': csrf },
        JSON.stringify({ userId: 2_000_001, text: 'not mine to say' }),
      )
      expect(sent.status).toBe(403)
      expect(await sent.json()).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    }
    expect(sandbox.transcript(2_000_001).map((m) => m.text)).not.toContain('not mine to say')
  })

  it('authenticates before it reads the body: bad JSON gets a 401 without a session, a JSON 400 with one', async () => {
    const anonymous = await post('messages', {}, '{"userId":')
    expect(anonymous.status).toBe(401)
    expect(await anonymous.json()).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } })
    const { cookie, csrf } = await login()
    const bad = await post('messages', { cookie, 'x-csrf-token': csrf }, '{"userId":')
    expect(bad.status).toBe(400)
    const text = await bad.text()
    expect(JSON.parse(text)).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } })
    expect(text).not.toMatch(/SyntaxError|\/work\/|node_modules|at /)
  })

  it('requires the CSRF token to act as a user, then relays the act and its errors', async () => {
    const { cookie, csrf } = await login()
    const send = (headers: Record<string, string>, body: unknown) =>
      post('messages', { cookie, ...headers }, JSON.stringify(body))
    expect((await send({}, { userId: 2_000_001, text: '/start' })).status).toBe(403)
    const sent = await send({ 'x-csrf-token': csrf }, { userId: 2_000_001, text: '/start' })
    expect(sent.status).toBe(200)
    expect(sandbox.transcript(2_000_001).map((m) => m.text)).toEqual(['/start'])
    const unknown = await send({ 'x-csrf-token': csrf }, { userId: 404, text: 'hi' })
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ ok: false })
  })

  it('passes a photo the bot sent through as bytes (the Sandbox page shows it)', async () => {
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])
    const form = new FormData()
    form.set('chat_id', '2000001')
    form.set('photo', new Blob([bytes], { type: 'image/png' }), 'fox.png')
    const sent = await fetch(`${sandbox.apiRoot}/bot${sandbox.bot().token}/sendPhoto`, {
      method: 'POST',
      body: form,
    })
    const { result } = (await sent.json()) as { result: { photo: Array<{ file_id: string }> } }
    const { cookie } = await login()
    const file = await fetch(
      `${server.url}/console-api/sandbox/files/${encodeURIComponent(result.photo[0]!.file_id)}`,
      { headers: { cookie } },
    )
    expect(file.status).toBe(200)
    expect(file.headers.get('content-type')).toBe('image/png')
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(bytes)
  })

  it('reaches the control API only, never the Bot API beside it (a raw `..` path)', async () => {
    const { cookie } = await login()
    const token = sandbox.bot().token
    for (const path of [`../bot${token}/getMe`, `%2e%2e/bot${token}/getMe`]) {
      // fetch would resolve the dots itself; a raw client sends them as they are.
      const answer = await rawGet(`/console-api/sandbox/${path}`, cookie)
      expect(answer.status).toBe(404)
      expect(answer.body).not.toContain('is_bot')
    }
  })

  it('holds the sandbox’s control token itself: the sandbox refuses the same call without it', async () => {
    expect((await fetch(`${sandbox.url}/sandbox/state`)).status).toBe(401)
    const { cookie } = await login()
    const proxied = await fetch(`${server.url}/console-api/sandbox/state`, { headers: { cookie } })
    expect(await proxied.text()).not.toContain(sandbox.controlToken)
  })
})
