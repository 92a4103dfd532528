/**
 * SIGTERM to a real server process under load: it reports not-ready while it still answers
 * (DRAIN_DELAY_MS), then stops accepting, finishes the request in flight, and exits 0. Every
 * request sent before the load balancer saw the 503 is answered whole; a connection opened after
 * the port closed is refused (the kernel's backlog may reset one; none is cut mid-answer). The
 * load is real writes (consumes) besides probes, and the request in flight is a consume too:
 * every consume the server acknowledged is in the ledger after it exits, and none it did not.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApiKey, createProject, grantCredits } from '@e-stars/billing'
import { openDatabase, rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServerProcess, spawnServer } from './spawn-server.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'estars-drain-'))
const CUSTOMER = 5_000_000_999
let server: ServerProcess | null = null
let apiKey: string
beforeAll(async () => {
  // The data directory the server will open: a project, its key, a customer with credits.
  const database = await openDatabase({ dataDir })
  try {
    const project = await createProject(database.db, { name: 'Drained' })
    apiKey = (await createApiKey(database.db, { projectId: project.id, name: 'bot' })).key
    await grantCredits(database.db, {
      projectId: project.id,
      telegramUserId: CUSTOMER,
      amount: 1_000_000,
      reason: 'load',
      source: 'promo',
      idempotencyKey: 'drain-grant',
      actor: 'test',
    })
  } finally {
    await database.close()
  }
})
afterAll(async () => {
  await server?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

type Outcome = { status: number; body: string } | { error: string }

/** One request on its own connection; `body` may be written in parts by the caller. */
function send(url: string, method: string, path: string, body?: Buffer, auth?: string) {
  const target = new URL(path, url)
  let write: (chunk: Buffer) => void = () => {}
  let end: () => void = () => {}
  const outcome = new Promise<Outcome>((resolve) => {
    const req = request(
      target,
      {
        method,
        agent: false,
        headers: {
          ...(body ? { 'content-type': 'application/json', 'content-length': body.length } : {}),
          ...(auth ? { authorization: `Bearer ${auth}` } : {}),
        },
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
    server = spawnServer(
      {
        PORT: '0',
        DATA_DIR: dataDir,
        SANDBOX: 'off',
        DEMO_DATA: 'off',
        LOG_LEVEL: 'info',
        DRAIN_DELAY_MS: '3000',
        DRAIN_TIMEOUT_MS: '20000',
      },
      undefined,
      { direct: true },
    )
    const url = await server.up
    expect((await fetch(`${url}/readyz`)).status).toBe(200)

    /** A consume over REST with its own idempotency key. */
    const consumeBody = (key: string) =>
      Buffer.from(
        JSON.stringify({
          telegramUserId: CUSTOMER,
          amount: 1,
          reason: 'drain',
          idempotencyKey: key,
        }),
      )
    const sent: Array<{ key: string; outcome: Promise<Outcome> }> = []
    // A request in flight: a consume whose body arrives in two parts, the second well after SIGTERM.
    const slowKey = `slow-${randomUUID()}`
    const body = consumeBody(slowKey)
    const slow = send(url, 'POST', '/api/v1/usage/consume', body, apiKey)
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
    // And a bot's writes, one after another (each answered before the next is sent), throughout.
    const writer = (async () => {
      while (loading) {
        const key = `load-${randomUUID()}`
        const payload = consumeBody(key)
        const call = send(url, 'POST', '/api/v1/usage/consume', payload, apiKey)
        call.write(payload)
        call.end()
        sent.push({ key, outcome: call.outcome })
        load.push(call.outcome)
        await call.outcome
      }
    })()
    // Long enough for a few writes to be answered and some to be in flight at the signal.
    await sleep(1500)
    server.child.kill('SIGTERM')

    // While the delay runs, the port answers and says it is not ready.
    const seen: string[] = []
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(25)) {
      const answer = await send(url, 'GET', '/readyz').outcome
      seen.push('status' in answer ? String(answer.status) : answer.error)
      if (seen.at(-1) === '503') break
    }
    const exit = seen.at(-1) === '503' ? null : await Promise.race([server.exited, sleep(2000)])
    expect(
      seen.at(-1),
      `readiness answers: ${seen.slice(0, 5).join(' ')}…; exit ${JSON.stringify(exit)}\n${server.stderr()}`,
    ).toBe('503')
    // The load balancer takes the replica out; the port is still open while the delay runs.
    loading = false
    await Promise.all([loader, writer])

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
    expect(answer.status, answer.body).toBe(200)
    expect(JSON.parse(answer.body)).toMatchObject({ consumed: 1 })

    // Every request the load balancer sent (until it saw 503) was answered whole.
    const outcomes = await Promise.all(load)
    expect(outcomes.length).toBeGreaterThan(10)
    const failed = outcomes.filter((outcome) => !('status' in outcome) || outcome.status !== 200)
    expect(failed, `of ${outcomes.length}`).toEqual([])

    expect(await server.exited).toEqual({ code: 0, signal: null })
    expect(server.stdout()).toMatch(/drained and closed/)

    // No acknowledged write is lost, and none was written without its answer.
    const acknowledged = [slowKey]
    for (const { key, outcome } of sent) {
      const settled = await outcome
      if ('status' in settled && settled.status === 200) acknowledged.push(key)
    }
    // The slow write and at least one of the stream (a quiet machine answers dozens).
    expect(acknowledged.length).toBeGreaterThan(1)
    const database = await openDatabase({ dataDir })
    try {
      const written = await rows<{ key: string }>(
        database.db,
        sql`select idempotency_key as key from ledger_entries where kind = 'consume' order by id`,
      )
      expect(written.map((w) => w.key).sort()).toEqual(acknowledged.sort())
    } finally {
      await database.close()
    }
  }, 60_000)
})
