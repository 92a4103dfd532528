/**
 * Defect 9: a server that cannot start says so in one line naming the setting, exits non-zero,
 * prints no stack, does not hang, and starts nothing (no sandbox) before it knows.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnServer, testSecretKey } from './spawn-server.ts'

const baseUrl = process.env.TEST_DATABASE_URL
/** tsx compiles the server on every start; on a busy 2-core machine that alone takes seconds. */

let scratch: string
const listeners: Server[] = []
const sockets: Socket[] = []

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'estars-startup-'))
})
afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await Promise.all(listeners.map((s) => new Promise((resolve) => s.close(resolve))))
  rmSync(scratch, { recursive: true, force: true })
})

/** A port something else already listens on (`silent`: accepts and never answers). */
async function occupiedPort(options: { silent?: boolean } = {}): Promise<number> {
  const server = createServer((socket) => {
    sockets.push(socket)
    if (!options.silent) socket.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  listeners.push(server)
  return (server.address() as { port: number }).port
}

/** A port nothing listens on (taken from the OS, then released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

const embedded = (name: string) => ({
  DATA_DIR: join(scratch, name),
  PORT: '0',
  HOST: '127.0.0.1',
  SANDBOX: 'off',
  RECONCILE_INTERVAL_SECONDS: '0',
})

/** Starts the server and expects it to refuse: one line naming `setting`, non-zero, quick. */
async function expectRefusal(env: Record<string, string>, setting: string | RegExp) {
  const started = Date.now()
  const server = spawnServer(env)
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 30_000)
  const { code, signal } = await server.exited
  clearTimeout(timer)
  const elapsed = Date.now() - started
  const stderr = server.stderr().trim()
  expect(signal, `killed after ${elapsed} ms: it hung\n${stderr}`).toBeNull()
  expect(code, stderr).not.toBe(0)
  expect(stderr.split('\n'), stderr).toHaveLength(1)
  expect(stderr).toMatch(setting)
  expect(stderr).not.toMatch(/^\s+at /m)
  expect(stderr).not.toMatch(/Failed query|params:|insert into|select /i)
  return { stderr, stdout: server.stdout() }
}

describe('start-up refuses with one line naming the setting', () => {
  it('PORT already in use, before the sandbox starts', async () => {
    const port = await occupiedPort()
    const sandboxPort = await closedPort()
    const { stderr, stdout } = await expectRefusal(
      {
        ...embedded('port-in-use'),
        PORT: String(port),
        SANDBOX: 'on',
        SANDBOX_PORT: String(sandboxPort),
      },
      /^PORT: .*already in use/,
    )
    expect(stderr).toContain(String(port))
    expect(stdout).not.toContain('sandbox listening')
  })

  it('SANDBOX_PORT already in use', async () => {
    const port = await occupiedPort()
    await expectRefusal(
      { ...embedded('sandbox-port'), SANDBOX: 'on', SANDBOX_PORT: String(port) },
      /^SANDBOX_PORT: .*already in use/,
    )
  })

  it('DATA_DIR that cannot be created (/proc/nope) does not hang', async () => {
    await expectRefusal({ ...embedded('x'), DATA_DIR: '/proc/nope' }, /^DATA_DIR: \/proc\/nope /)
  })

  it('DATA_DIR naming a file', async () => {
    const file = join(scratch, 'a-file')
    writeFileSync(file, 'not a directory')
    await expectRefusal({ ...embedded('x'), DATA_DIR: file }, /^DATA_DIR: .*a file/)
  })

  it('DATA_DIR under a file', async () => {
    const file = join(scratch, 'another-file')
    writeFileSync(file, 'not a directory')
    await expectRefusal({ ...embedded('x'), DATA_DIR: join(file, 'data') }, /^DATA_DIR: /)
  })

  it('an invalid value names its setting', async () => {
    await expectRefusal({ ...embedded('bad-port'), PORT: 'eighty' }, /PORT/)
  })

  it('DATABASE_URL without SECRET_KEY', async () => {
    const port = await closedPort()
    await expectRefusal(
      { ...embedded('no-secret'), DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/x` },
      /SECRET_KEY: required with DATABASE_URL/,
    )
  })

  it('DATABASE_URL where nothing listens', async () => {
    const port = await closedPort()
    await expectRefusal(
      {
        ...embedded('refused'),
        DATABASE_URL: `postgres://postgres:not-a-real-password@127.0.0.1:${port}/estars`,
        SECRET_KEY: testSecretKey(),
      },
      new RegExp(`^DATABASE_URL: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} `),
    )
  })

  it('DATABASE_URL whose server never answers gives up after DATABASE_CONNECT_TIMEOUT_SECONDS', async () => {
    const port = await occupiedPort({ silent: true })
    const { stderr } = await expectRefusal(
      {
        ...embedded('silent'),
        DATABASE_URL: `postgres://postgres:not-a-real-password@127.0.0.1:${port}/estars`,
        SECRET_KEY: testSecretKey(),
        DATABASE_CONNECT_TIMEOUT_SECONDS: '1',
      },
      /^DATABASE_URL: cannot reach PostgreSQL .*CONNECT_TIMEOUT/,
    )
    expect(stderr).not.toContain('not-a-real-password')
  })

  it.skipIf(!baseUrl)('DATABASE_URL naming a database that does not exist', async () => {
    const url = new URL(baseUrl!)
    url.pathname = '/estars_missing_database'
    const { stderr } = await expectRefusal(
      { ...embedded('missing-db'), DATABASE_URL: url.toString(), SECRET_KEY: testSecretKey() },
      /^DATABASE_URL: the database "estars_missing_database" does not exist/,
    )
    expect(stderr).not.toContain('PostgresError')
  })
})
