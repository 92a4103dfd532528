import { mkdtempSync, rmSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createOperator, createProject } from '@e-stars/billing'
import type { Database } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../src/app.ts'
import {
  clientAddress,
  isLoopbackRequest,
  parseTrustProxy,
  requestIsHttps,
  type TrustProxy,
} from '../src/client-address.ts'
import { readControlFile } from '../src/control-file.ts'
import { parseEnv } from '../src/env.ts'
import { startServer } from '../src/server.ts'

/**
 * TRUST_PROXY decides whose words `X-Forwarded-For` and `X-Forwarded-Proto` are: off, nobody's
 * (the socket's peer is the client); `1`, the one proxy in front. The client address, the
 * cookie's Secure flag and every loopback check follow it.
 */
const silent = { info() {}, warn() {}, error() {} }
const OPERATOR = { email: 'owner@trust-proxy.test', password: 'a long enough password' }
let database: Database
const servers: Server[] = []

beforeAll(async () => {
  database = await createTestDatabase()
  const project = await createProject(database.db, { name: 'Proxied bot' })
  await createOperator(database.db, { ...OPERATOR, projectId: project.id, role: 'owner' })
})
afterAll(async () => {
  for (const server of servers) server.close()
  await database?.close()
})

/** The app behind `trustProxy`, with a route that says what client-address.ts sees. */
async function appBehind(trustProxy: TrustProxy) {
  const app = createApp({
    db: database.db,
    database,
    logger: silent,
    trustProxy,
    extend(app) {
      app.get('/probe', (req, res) => {
        res.json({
          address: clientAddress(req),
          https: requestIsHttps(req),
          loopback: isLoopbackRequest(req),
        })
      })
    },
  })
  const server = app.listen(0, '127.0.0.1')
  servers.push(server)
  await new Promise((resolve) => server.once('listening', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function probe(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/probe`, { headers })
  return (await response.json()) as { address: string; https: boolean; loopback: boolean }
}

async function login(url: string, headers: Record<string, string>, who = OPERATOR) {
  return fetch(`${url}/trpc/operator.auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(who),
  })
}

const FORGED = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' }

describe('TRUST_PROXY', () => {
  it('parses off, a hop count and an address list; refuses anything else, naming it', () => {
    expect(parseEnv({}).TRUST_PROXY).toBe(false)
    expect(parseEnv({ TRUST_PROXY: 'off' }).TRUST_PROXY).toBe(false)
    expect(parseEnv({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2)
    expect(parseEnv({ TRUST_PROXY: '10.0.0.1, 10.1.0.0/16, ::1' }).TRUST_PROXY).toEqual([
      '10.0.0.1',
      '10.1.0.0/16',
      '::1',
    ])
    expect(parseTrustProxy('loopback')).toEqual(['loopback'])
    expect(() => parseEnv({ TRUST_PROXY: '10.0.0.0/99' })).toThrow(/TRUST_PROXY: .*10\.0\.0\.0\/99/)
    expect(() => parseEnv({ TRUST_PROXY: 'yes please' })).toThrow(/TRUST_PROXY/)
    expect(() => parseEnv({ TRUST_PROXY: '999.1.1.1' })).toThrow(/TRUST_PROXY/)
  })
})

describe('isLoopbackRequest', () => {
  const from = (remoteAddress: string, headers: Record<string, string> = {}) =>
    isLoopbackRequest({ headers, socket: { remoteAddress } })

  it('every spelling of loopback is loopback; nothing else is', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      expect(from(address), address).toBe(true)
    }
    for (const address of ['10.0.0.1', '::ffff:10.0.0.1', '0.0.0.0', '::', 'not an address', '']) {
      expect(from(address), address).toBe(false)
    }
  })

  it('a proxied request is not loopback unless every hop it names is', () => {
    expect(from('127.0.0.1', { 'x-forwarded-for': '::1, 127.0.0.1' })).toBe(true)
    expect(from('127.0.0.1', { 'x-forwarded-for': '127.0.0.1, 203.0.113.7' })).toBe(false)
    expect(from('127.0.0.1', { 'x-forwarded-for': 'unknown' })).toBe(false)
    expect(from('127.0.0.1', { 'x-real-ip': '203.0.113.7' })).toBe(false)
    expect(from('127.0.0.1', { forwarded: 'for=127.0.0.1' })).toBe(false)
  })
})

describe('off (the default): forwarded headers are anyone’s words', () => {
  let url: string
  beforeAll(async () => {
    url = await appBehind(false)
  })

  it('the client is the socket peer; the protocol is the socket’s', async () => {
    expect(await probe(url, FORGED)).toEqual({
      address: '127.0.0.1',
      https: false,
      loopback: false,
    })
    expect(await probe(url)).toEqual({ address: '127.0.0.1', https: false, loopback: true })
  })

  it('a forged X-Forwarded-Proto: https does not add Secure to the session cookie', async () => {
    const response = await login(url, FORGED)
    expect(response.status).toBe(200)
    const cookie = response.headers.get('set-cookie')!
    expect(cookie).toMatch(/HttpOnly; SameSite=Strict/)
    expect(cookie).not.toMatch(/Secure/)
  })
})

describe('1 hop: the load balancer’s words are the client’s address and protocol', () => {
  let url: string
  beforeAll(async () => {
    url = await appBehind(1)
  })

  it('X-Forwarded-For and X-Forwarded-Proto from the one proxy are honoured', async () => {
    expect(await probe(url, FORGED)).toEqual({
      address: '203.0.113.7',
      https: true,
      loopback: false,
    })
    // The proxy appends the peer it saw; a client's own prefix is not believed.
    const chained = { 'x-forwarded-for': '127.0.0.1, 198.51.100.4' }
    expect(await probe(url, chained)).toMatchObject({ address: '198.51.100.4', loopback: false })
    expect(await probe(url, { 'x-forwarded-for': '127.0.0.1' })).toMatchObject({
      address: '127.0.0.1',
      loopback: true,
    })
  })

  it('the session cookie is Secure when the proxy says https', async () => {
    const response = await login(url, FORGED)
    expect(response.headers.get('set-cookie')).toMatch(/; Secure$/)
  })

  it('per-IP login limits count each forwarded client apart', async () => {
    const attempt = (ip: string, n: number) =>
      login(url, { 'x-forwarded-for': ip }, { email: `nobody${n}@trust-proxy.test`, password: 'x' })
    // The per-IP limit (20 in 15 minutes): one client spends it; another is still answered.
    let last = 0
    for (let n = 0; n < 22 && last !== 429; n++) last = (await attempt('203.0.113.50', n)).status
    expect(last).toBe(429)
    expect((await attempt('203.0.113.51', 99)).status).toBe(401)
  })
})

describe('a proxy list: only those peers are believed', () => {
  it('X-Forwarded-For from a peer not on the list is ignored', async () => {
    const url = await appBehind(['10.0.0.0/8'])
    expect(await probe(url, FORGED)).toEqual({
      address: '127.0.0.1',
      https: false,
      loopback: false,
    })
  })
})

describe('the loopback-only admin command follows it', () => {
  let dataDir: string
  let server: Awaited<ReturnType<typeof startServer>>
  let token: string
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'estars-trust-proxy-'))
    server = await startServer(
      parseEnv({ PORT: '0', DATA_DIR: dataDir, DEMO_DATA: 'off', RECONCILE_INTERVAL_SECONDS: '0' }),
      silent,
    )
    token = readControlFile(dataDir)!.token
  })
  afterAll(async () => {
    await server?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const command = (headers: Record<string, string>) =>
    fetch(`${server.url}/admin/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-admin-token': token, ...headers },
      body: JSON.stringify({ argv: ['project', 'list'] }),
    })

  it('answers a local caller with the token', async () => {
    expect((await command({})).status).not.toBe(403)
  })

  it('refuses a remote client that a proxy on this host forwards, even with TRUST_PROXY off', async () => {
    expect((await command({ 'x-forwarded-for': '203.0.113.7' })).status).toBe(403)
    expect((await command({ 'x-real-ip': '203.0.113.7' })).status).toBe(403)
    expect((await command({ forwarded: 'for=203.0.113.7' })).status).toBe(403)
  })
})
