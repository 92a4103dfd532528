/**
 * `PORT=… SANDBOX_PORT=… pnpm start` as a new operator types it: turbo runs the server and the
 * reference bot, and the bot must follow the server it was started with (issue: it waited for
 * :3000, gave up after 120 s, and turbo stopped the server with it). Runs the root `start` script
 * itself; the builds it depends on are left out with turbo's `--only`.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { controlHeaders } from '@e-stars/sandbox'
import { afterAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const SANDBOX_TOKEN = 'sandbox-token-of-the-start-test'
// Generous: on a busy 2-core machine turbo, two tsx processes and PGlite's first migration
// can take a minute before the bot polls.
const START_TIMEOUT_MS = 240_000

async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

let child: ChildProcess | undefined
let output = ''
afterAll(async () => {
  if (!child?.pid || child.exitCode !== null) return
  const exited = new Promise((resolve) => child!.once('exit', resolve))
  // The whole group, like Ctrl-C in a terminal: turbo, the server and the bot.
  process.kill(-child.pid, 'SIGINT')
  const killed = setTimeout(() => process.kill(-child!.pid!, 'SIGKILL'), 30_000)
  await exited
  clearTimeout(killed)
}, 60_000)

async function control(sandboxUrl: string, path: string, body?: unknown) {
  const response = await fetch(`${sandboxUrl}/sandbox/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...controlHeaders(SANDBOX_TOKEN) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(70_000),
  })
  return (await response.json()) as { ok: boolean; result?: { text?: string; message_id: number } }
}

/** Retries `attempt` until it gives a value or the start deadline passes (no fixed sleeps). */
async function until<T>(what: string, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    const value = await attempt().catch(() => undefined)
    if (value !== undefined) return value
    if (child?.exitCode !== null) throw new Error(`pnpm start exited before ${what}:\n${output}`)
    if (Date.now() > deadline) throw new Error(`no ${what} in time:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

describe('pnpm start with a non-default PORT', () => {
  it(
    'brings up a bot that follows that server and answers',
    async () => {
      const [port, sandboxPort] = [await freePort(), await freePort()]
      const { ESTARS_URL: _url, ESTARS_DEMO_TOKEN: _token, ...inherited } = process.env
      child = spawn(
        'pnpm',
        ['run', 'start', '--filter=@e-stars/server', '--filter=@e-stars/bot', '--only'],
        {
          cwd: root,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            ...inherited,
            PORT: String(port),
            SANDBOX_PORT: String(sandboxPort),
            SANDBOX_TOKEN,
            DATA_DIR: mkdtempSync(join(tmpdir(), 'estars-start-')),
            DEMO_DATA: 'off',
            RECONCILE_INTERVAL_SECONDS: '0',
            TURBO_TELEMETRY_DISABLED: '1',
            TURBO_NO_UPDATE_NOTIFIER: '1',
          },
        },
      )
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk
      })
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk
      })

      const sandboxUrl = `http://127.0.0.1:${sandboxPort}`
      await until('sandbox', async () =>
        (await control(sandboxUrl, 'state')).ok ? true : undefined,
      )
      // The sandbox starts before the database and the seed (the seed's charges are its own).
      const health = await until('server', async () => {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`)
        return response.ok ? response : undefined
      })
      expect(health.ok).toBe(true)
      // An update waits in the sandbox until the bot polls, so one /start is enough.
      const sent = await control(sandboxUrl, 'messages', { userId: 2_000_001, text: '/start' })
      expect(sent.ok).toBe(true)
      const welcome = await until('answer from the bot', async () => {
        const waited = await control(sandboxUrl, 'messages/wait', {
          userId: 2_000_001,
          afterMessageId: sent.result!.message_id,
          timeoutMs: 60_000,
        })
        return waited.ok ? waited.result : undefined
      })
      expect(welcome.text).toMatch(/^Welcome, Alice!/)
      expect(output).toContain(`:${port}`)
      expect(output).not.toMatch(/did not come up|was not started with this bot/)
    },
    START_TIMEOUT_MS + 60_000,
  )
})
