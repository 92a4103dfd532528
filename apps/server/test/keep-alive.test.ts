import { connect } from 'node:net'
import { createTestDatabase } from '@e-stars/db/testing'
import { createSandbox, type Sandbox } from '@e-stars/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

/**
 * A busy client reuses an idle keep-alive socket until shortly before the server's advertised
 * timeout. With Node's 5 s default, a reuse that lands just as the server closes the socket dies
 * with ECONNRESET (seen in CI on a busy machine: `sendInvoice failed (connection): read
 * ECONNRESET`). Both the server and the sandbox keep idle sockets for a minute: a second request
 * on one socket after 6 s of silence is answered.
 */
const silent = { info() {}, warn() {}, error() {} }
let sandbox: Sandbox
let server: RunningServer

beforeAll(async () => {
  sandbox = await createSandbox({})
  server = await startServer(
    parseEnv({
      PORT: '0',
      SANDBOX_URL: sandbox.url,
      SANDBOX_TOKEN: sandbox.controlToken,
      RECONCILE_INTERVAL_SECONDS: '0',
    }),
    silent,
    { database: await createTestDatabase() },
  )
})
afterAll(async () => {
  await server?.close()
  await sandbox?.close()
})

/** Two GETs on one socket, `pauseMs` apart; the status lines that came back, and the keep-alive hint. */
async function twoRequestsOnOneSocket(base: string, path: string, pauseMs: number) {
  const { hostname, port } = new URL(base)
  const socket = connect(Number(port), hostname)
  let received = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    received += chunk
  })
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.on('error', () => {})
  const request = `GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: keep-alive\r\n\r\n`
  socket.write(request)
  await new Promise((resolve) => setTimeout(resolve, pauseMs))
  if (!socket.destroyed && socket.writable) socket.write(request)
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1500))])
  socket.destroy()
  return {
    statuses: received.match(/HTTP\/1\.1 \d{3}/g) ?? [],
    keepAlive: /keep-alive: timeout=(\d+)/i.exec(received)?.[1],
  }
}

describe('idle keep-alive sockets', () => {
  it('the server answers a second request on a socket idle for 6 s', async () => {
    const got = await twoRequestsOnOneSocket(server.url, '/healthz', 6000)
    expect(got.statuses).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200'])
    expect(Number(got.keepAlive)).toBeGreaterThanOrEqual(60)
  }, 15_000)

  it('so does the sandbox (the Bot API stand-in)', async () => {
    const got = await twoRequestsOnOneSocket(sandbox.url, '/botnope/getMe', 6000)
    expect(got.statuses).toHaveLength(2)
    expect(Number(got.keepAlive)).toBeGreaterThanOrEqual(60)
  }, 15_000)
})
