/**
 * The production build (docs/deploy.md, "Production build"): `pnpm build` emits JavaScript, and
 * `node dist/main.mjs` — no TypeScript loader — starts on the embedded database, applies the
 * migrations it ships, answers `/readyz`, and serves tRPC to a key made by the built CLI.
 *
 * It is started exactly as docs/deploy.md's systemd unit and Dockerfile start it (their command
 * line, working directory and NODE_ENV are read from the page), and stopped as they stop it:
 * SIGTERM, exit 0 within the unit's TimeoutStopSec.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createEStarsClient } from '@e-stars/api/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testSecretKey } from './spawn-server.ts'

const run = promisify(execFile)

/** The unit's and the Dockerfile's own words, from docs/deploy.md. */
const deployGuide = readFileSync(
  fileURLToPath(new URL('../../../docs/deploy.md', import.meta.url)),
  'utf8',
)
const unit =
  /```ini\n(# \/etc\/systemd\/system\/e-stars\.service[\s\S]*?)```/.exec(deployGuide)?.[1] ?? ''
const dockerfile = /```dockerfile\n([\s\S]*?)```/.exec(deployGuide)?.[1] ?? ''
const unitLine = (name: string) =>
  new RegExp(`^${name}=(.*?)(?:\\s+#.*)?$`, 'm').exec(unit)?.[1]?.trim() ?? ''
/** `ExecStart=/usr/bin/node --enable-source-maps dist/main.mjs` → the arguments after node. */
const recipeArgs = unitLine('ExecStart').split(/\s+/).slice(1)
const serverDir = fileURLToPath(new URL('..', import.meta.url))
const dist = join(serverDir, 'dist')
// Generous: a build and PGlite's first migration on a busy 2-core machine.
const TIMEOUT_MS = 180_000

async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

const dataDir = mkdtempSync(join(tmpdir(), 'estars-prod-build-'))
const env = (port: number) => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  DATA_DIR: dataDir,
  HOST: '127.0.0.1',
  PORT: String(port),
  SANDBOX: 'off',
  SECRET_KEY: testSecretKey(),
  LOG_LEVEL: 'warn',
  NODE_ENV: 'production',
})

let child: ChildProcess | undefined
let out = ''
let base = ''
let projectId = ''
let serverEnv: ReturnType<typeof env>

beforeAll(async () => {
  await run('pnpm', ['run', 'build'], { cwd: serverDir, timeout: TIMEOUT_MS })
  serverEnv = env(await freePort())
  // WorkingDirectory=/opt/e-stars/apps/server: the checkout's apps/server.
  child = spawn(process.execPath, recipeArgs, {
    cwd: serverDir,
    env: serverEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
  })
  const deadline = Date.now() + TIMEOUT_MS
  for (;;) {
    const up = /e-Stars is up: (http:\/\/\S+)/.exec(out)
    if (up) {
      base = up[1]!
      break
    }
    if (child.exitCode !== null) throw new Error(`node dist/main.mjs exited:\n${out}`)
    if (Date.now() > deadline) throw new Error(`node dist/main.mjs not up in time:\n${out}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  projectId = /created the project "Demo bot" \(([0-9a-f-]{36})\)/.exec(out)?.[1] ?? ''
}, TIMEOUT_MS + 30_000)

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
  rmSync(dataDir, { recursive: true, force: true })
}, 60_000)

describe('the recipes in docs/deploy.md', () => {
  it('the systemd unit and the Dockerfile run the same command, in apps/server, with NODE_ENV=production', () => {
    expect(recipeArgs).toEqual(['--enable-source-maps', 'dist/main.mjs'])
    expect(unitLine('WorkingDirectory')).toBe('/opt/e-stars/apps/server')
    expect(unitLine('Environment')).toBe('NODE_ENV=production')
    expect(unitLine('KillSignal')).toBe('SIGTERM')
    expect(dockerfile).toContain(
      `CMD ${JSON.stringify(['node', ...recipeArgs]).replace(/,/g, ', ')}`,
    )
    expect(dockerfile).toMatch(/^WORKDIR \/app\/apps\/server$/m)
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production /m)
  })
})

describe('the production build', () => {
  it('bundles the workspace packages and ships the migrations beside the bundle', () => {
    const code = readdirSync(dist)
      .filter((file) => file.endsWith('.mjs'))
      .map((file) => readFileSync(join(dist, file), 'utf8'))
      .join('\n')
    // A workspace import left in would need a TypeScript loader at run time.
    expect(code).not.toMatch(/from ["']@e-stars\//)
    // node_modules packages stay imports (PGlite finds its wasm and data files in its own folder).
    expect(code).toMatch(/from ["']@electric-sql\/pglite["']/)
    expect(existsSync(join(dist, 'drizzle/meta/_journal.json'))).toBe(true)
    expect(existsSync(join(dist, 'telegram-web-app.js'))).toBe(true)
  })

  it('node dist/main.mjs is ready on PGlite with every shipped migration applied', async () => {
    expect(projectId).not.toBe('')
    const response = await fetch(`${base}/readyz`)
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({
      ok: true,
      database: 'pglite',
      checks: { migrations: true, database: true, jobs: true, accepting: true },
    })
  })

  it('serves tRPC to a key the built CLI creates; a wrong key is refused', async () => {
    const cli = await run(
      process.execPath,
      [join(dist, 'cli.mjs'), 'key', 'create', '--project', projectId, '--name', 'prod-build'],
      { cwd: serverDir, env: serverEnv, timeout: 60_000 },
    )
    const apiKey = /^\s{2}(\S+)\s*$/m.exec(cli.stdout)?.[1]
    expect(apiKey, cli.stdout + cli.stderr).toBeDefined()
    const client = createEStarsClient({ url: base, apiKey: apiKey! })
    await client.credits.grant.mutate({
      telegramUserId: 77,
      amount: 10,
      source: 'promo',
      reason: 'production build test',
      idempotencyKey: 'prod-build-grant',
    })
    await client.usage.consume.mutate({
      telegramUserId: 77,
      amount: 3,
      reason: 'production build test',
      idempotencyKey: 'prod-build-consume',
    })
    expect(await client.credits.balance.query({ telegramUserId: 77 })).toMatchObject({
      available: 7,
    })
    const stranger = createEStarsClient({ url: base, apiKey: 'not-a-key-of-this-server' })
    await expect(stranger.credits.balance.query({ telegramUserId: 77 })).rejects.toMatchObject({
      data: { code: 'UNAUTHORIZED' },
    })
  })

  it('SIGTERM (the unit’s KillSignal) drains and exits 0 well within TimeoutStopSec', async () => {
    const stopSeconds = Number(unitLine('TimeoutStopSec'))
    // DRAIN_DELAY_MS + DRAIN_TIMEOUT_MS at their defaults (0 + 10 s) must fit in it.
    expect(stopSeconds).toBeGreaterThan(10)
    const started = Date.now()
    const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve))
    child!.kill('SIGTERM')
    const code = await Promise.race([
      exited,
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), stopSeconds * 1000)),
    ])
    expect(code, out).toBe(0)
    expect(Date.now() - started).toBeLessThan(stopSeconds * 1000)
  }, 60_000)
})
