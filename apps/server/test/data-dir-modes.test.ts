/**
 * Issue 12, item 4: the embedded database is private to the user who runs the server. Another
 * local user who could write its files could edit operators, sessions and the ledger directly.
 */
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../src/env.ts'
import { assertDataDirUsable } from '../src/first-start.ts'
import { runCli, spawnServer } from './spawn-server.ts'

let scratch: string

beforeAll(() => {
  // A scratch folder readable by everyone, as /tmp is: DATA_DIR must not inherit that.
  scratch = mkdtempSync(join(tmpdir(), 'estars-modes-'))
  chmodSync(scratch, 0o755)
})
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const embedded = (dataDir: string) => ({
  DATA_DIR: dataDir,
  PORT: '0',
  HOST: '127.0.0.1',
  SANDBOX: 'off',
  RECONCILE_INTERVAL_SECONDS: '0',
})

/** Every path under `root` (itself included) whose mode gives group or others any access. */
function openToOthers(root: string): string[] {
  const found: string[] = []
  const walk = (path: string) => {
    const stat = lstatSync(path)
    if (stat.mode & 0o077) found.push(`${path} ${(stat.mode & 0o777).toString(8)}`)
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name))
  }
  walk(root)
  return found
}

describe('DATA_DIR file modes', () => {
  it('a fresh DATA_DIR after a real start has no file or folder open to group or others', async () => {
    const dataDir = join(scratch, 'fresh', 'data')
    const server = spawnServer(embedded(dataDir))
    try {
      await server.up
      const files = readdirSync(dataDir, { recursive: true })
      // The database, its catalogue, the secret key and the control file are all there…
      expect(files.length).toBeGreaterThan(100)
      expect(files).toEqual(expect.arrayContaining(['secret.key', 'server.json']))
      // …and none of them is readable or writable by anyone else.
      expect(openToOthers(dataDir)).toEqual([])
    } finally {
      await server.stop()
    }
    expect(openToOthers(dataDir)).toEqual([])
    expect(statSync(join(scratch, 'fresh')).mode & 0o777).toBe(0o700)
  }, 60_000)

  it('the CLI on a fresh DATA_DIR (no server running) leaves nothing open to others either', async () => {
    const dataDir = join(scratch, 'cli')
    const { code, stderr } = await runCli(['project', 'create', 'Modes bot'], { DATA_DIR: dataDir })
    expect(code, stderr).toBe(0)
    expect(readdirSync(dataDir, { recursive: true }).length).toBeGreaterThan(100)
    expect(openToOthers(dataDir)).toEqual([])
  }, 60_000)

  it('refuses to start on a world-writable DATA_DIR, in one line naming it and the fix', async () => {
    const dataDir = join(scratch, 'shared')
    mkdirSync(dataDir)
    chmodSync(dataDir, 0o777)
    const server = spawnServer(embedded(dataDir))
    // A server that starts anyway is stopped, so the failure is an assertion, not a hang.
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 30_000)
    const { code } = await server.exited
    clearTimeout(timer)
    expect(code).not.toBe(0)
    expect(server.stderr().trim()).toBe(
      `DATA_DIR: ${dataDir} is writable by other users (mode 777); run: chmod 700 ${dataDir}`,
    )
    expect(readdirSync(dataDir)).toEqual([])
  }, 60_000)

  it('refuses a group-writable DATA_DIR', () => {
    const dataDir = join(scratch, 'group')
    mkdirSync(dataDir)
    chmodSync(dataDir, 0o770)
    expect(() => assertDataDirUsable(dataDir)).toThrow(
      new ConfigError(
        `DATA_DIR: ${dataDir} is writable by other users (mode 770); run: chmod 700 ${dataDir}`,
      ),
    )
  })

  it('refuses a DATA_DIR owned by another user', () => {
    const dataDir = join(scratch, 'theirs')
    mkdirSync(dataDir, { mode: 0o700 })
    const someoneElse = statSync(dataDir).uid + 1
    expect(() => assertDataDirUsable(dataDir, { uid: someoneElse })).toThrow(
      /^DATA_DIR: .* is owned by another user \(uid \d+\)/,
    )
  })

  it('tightens files an older version left readable by others', () => {
    const dataDir = join(scratch, 'old')
    mkdirSync(join(dataDir, 'base', '1'), { recursive: true })
    writeFileSync(join(dataDir, 'base', '1', '1259'), 'catalog', { mode: 0o644 })
    chmodSync(join(dataDir, 'base', '1', '1259'), 0o666)
    for (const dir of [dataDir, join(dataDir, 'base'), join(dataDir, 'base', '1')])
      chmodSync(dir, 0o755)
    assertDataDirUsable(dataDir)
    expect(openToOthers(dataDir)).toEqual([])
    expect(statSync(join(dataDir, 'base', '1', '1259')).mode & 0o777).toBe(0o600)
  })
})
