import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestDatabase } from '@e-stars/db/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const silent = { info() {}, warn() {}, error() {} }
let server: RunningServer
let consoleDir: string

beforeAll(async () => {
  consoleDir = mkdtempSync(join(tmpdir(), 'estars-console-'))
  mkdirSync(join(consoleDir, 'assets'))
  writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><title>e-Stars console</title>')
  writeFileSync(join(consoleDir, 'assets', 'app.js'), 'console.log(1)')
  const database = await createTestDatabase()
  server = await startServer(parseEnv({ PORT: '0', CONSOLE_DIR: consoleDir }), silent, {
    database,
  })
})
afterAll(() => server?.close())

async function trpc(path: string, init: { body?: unknown; cookie?: string; csrf?: string } = {}) {
  const response = await fetch(`${server.url}/trpc/${path}`, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers: {
      'content-type': 'application/json',
      ...(init.cookie ? { cookie: init.cookie } : {}),
      ...(init.csrf ? { 'x-csrf-token': init.csrf } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  })
  return {
    response,
    json: (await response.json()) as { result?: { data: unknown }; error?: unknown },
  }
}

describe('the console over HTTP', () => {
  it('creates a demo owner on the first start who can log in with an httpOnly cookie', async () => {
    expect(server.demoOperator?.email).toBe('demo@e-stars.local')
    const { response, json } = await trpc('operator.auth.login', {
      body: { email: server.demoOperator!.email, password: server.demoOperator!.password },
    })
    expect(response.status).toBe(200)
    const setCookie = response.headers.get('set-cookie')!
    expect(setCookie).toMatch(
      /^estars_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Expires=/,
    )
    expect(setCookie).not.toContain('Secure')
    const cookie = setCookie.split(';')[0]!
    const { csrfToken, projects } = json.result!.data as {
      csrfToken: string
      projects: Array<{ id: string }>
    }
    expect(projects[0]!.id).toBe(server.demoProjectId)
    const session = await trpc('operator.auth.session', { cookie })
    expect(session.json.result!.data).toMatchObject({ operator: { email: 'demo@e-stars.local' } })

    const input = { projectId: server.demoProjectId, name: 'from http' }
    const forged = await trpc('operator.apiKeys.create', { body: input, cookie })
    expect(forged.response.status).toBe(403)
    const created = await trpc('operator.apiKeys.create', { body: input, cookie, csrf: csrfToken })
    expect(created.response.status).toBe(200)
    expect((created.json.result!.data as { key: string }).key).toMatch(/^esk_/)

    const out = await trpc('operator.auth.logout', { body: {}, cookie, csrf: csrfToken })
    expect(out.response.headers.get('set-cookie')).toMatch(/^estars_session=; .*Max-Age=0/)
    expect((await trpc('operator.auth.session', { cookie })).json.result!.data).toBeNull()
  })

  it('answers a wrong password with 401 and no cookie', async () => {
    const { response } = await trpc('operator.auth.login', {
      body: { email: 'demo@e-stars.local', password: 'wrong password' },
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('set-cookie')).toBeNull()
  })

  it('serves the built console with a fallback to index.html for client routes', async () => {
    expect(server.consoleServed).toBe(true)
    const page = await fetch(`${server.url}/customers/42`, { headers: { accept: 'text/html' } })
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('e-Stars console')
    const asset = await fetch(`${server.url}/assets/app.js`)
    expect(await asset.text()).toBe('console.log(1)')
    const missingApi = await fetch(`${server.url}/trpc/nope`, { headers: { accept: 'text/html' } })
    expect(missingApi.status).toBe(404)
    expect(await (await fetch(`${server.url}/healthz`)).json()).toMatchObject({ ok: true })
  })

  it('reports whether the sandbox page is available and guards its proxy', async () => {
    expect(await (await fetch(`${server.url}/console-api/config`)).json()).toEqual({
      sandbox: false,
    })
    const proxied = await fetch(`${server.url}/console-api/sandbox/state`)
    expect(proxied.status).toBe(404)
  })
})
