/**
 * SIGTERM to a real server process under load: it reports not-ready while it still answers
 * (DRAIN_DELAY_MS), then stops accepting, finishes the request in flight, and exits 0. Every
 * request sent before the load balancer saw the 503 is answered whole; a connection opened after
 * the port closed is refused (the kernel's backlog may reset one; none is cut mid-answer).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type ServerProcess, spawnServer } from './spawn-server.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'estars-drain-'))
let server: ServerProcess | null = null
afterAll(async () => {
  await server?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

type Outcome = { status: number; body: string } | { error: string }

/** One request on its own connection; `body` may be written in parts by the caller. */
function send(url: string, method: string, path: string, body?: Buffer) {
  const target = new URL(path, url)
  let write: (chunk: Buffer) => void = () => {}
  let end: () => void = () => {}
  const outcome = new Promise<Outcome>((resolve) => {
    const req = request(
      target,
      {
        method,
        agent: false,
        headers: body ? { 'content-type': 'application/json', 'content-length': body.length } : {},
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
        res.on('error', (error) => resolve({ error: `cut: ${error.message}` }))
      },
    )
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ error: error.code ?? error.message }),
    )
    write = (chunk) => req.write(chunk)
    end = () => req.end()
    if (!body) req.end()
  })
  return { outcome, write: (chunk: Buffer) => write(chunk), end: () => end() }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('SIGTERM', () => {
  it('drains: not ready, no new connections, the request in flight completes, exit 0', async () => {
    server = spawnServer({
      PORT: '0',
      DATA_DIR: dataDir,
      SANDBOX: 'off',
      DEMO_DATA: 'off',
      LOG_LEVEL: 'info',
      DRAIN_DELAY_MS: '3000',
      DRAIN_TIMEOUT_MS: '20000',
    })
    const url = await server.up
    expect((await fetch(`${url}/readyz`)).status).toBe(200)

    // A request in flight: its body arrives in two parts, the second well after SIGTERM.
    const body = Buffer.from(JSON.stringify({ telegramUserId: 5_000_000_999 }))
    const slow = send(url, 'POST', '/api/v1/customers', body)
    slow.write(body.subarray(0, 5))
    await sleep(200)

    // Load: a stream of short requests from before SIGTERM until the load balancer sees 503.
    const load: Promise<Outcome>[] = []
    let loading = true
    const loader = (async () => {
      while (loading) {
        load.push(send(url, 'GET', '/healthz').outcome)
        await sleep(20)
      }
    })()
    await sleep(200)
    server.child.kill('SIGTERM')

    // While the delay runs, the port answers and says it is not ready.
    const seen: string[] = []
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(25)) {
      const answer = await send(url, 'GET', '/readyz').outcome
      seen.push('status' in answer ? String(answer.status) : answer.error)
      if (seen.at(-1) === '503') break
    }
    expect(seen.at(-1), `readiness answers: ${seen.join(' ')}\n${server.stderr()}`).toBe('503')
    // The load balancer takes the replica out; the port is still open while the delay runs.
    loading = false
    await loader

    // Then it stops accepting: new connections are refused.
    let refused = false
    for (let i = 0; i < 200 && !refused; i++) {
      const answer = await send(url, 'GET', '/healthz').outcome
      refused = 'error' in answer && answer.error === 'ECONNREFUSED'
      await sleep(50)
    }
    expect(refused).toBe(true)
    expect(server.child.exitCode).toBeNull()

    // The request in flight still completes, with a whole answer.
    slow.write(body.subarray(5))
    slow.end()
    const answer = await slow.outcome
    expect(answer).toMatchObject({ status: expect.any(Number) })
    if (!('status' in answer)) throw new Error(answer.error)
    expect(answer.status).toBeLessThan(500)
    expect(() => JSON.parse(answer.body)).not.toThrow()

    // Every request the load balancer sent (until it saw 503) was answered whole.
    const outcomes = await Promise.all(load)
    expect(outcomes.length).toBeGreaterThan(10)
    const failed = outcomes.filter((outcome) => !('status' in outcome) || outcome.status !== 200)
    expect(failed, `of ${outcomes.length}`).toEqual([])

    expect(await server.exited).toEqual({ code: 0, signal: null })
    expect(server.stdout()).toMatch(/drained and closed/)
  }, 60_000)
})
