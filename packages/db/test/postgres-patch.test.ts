import { execFile } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * patches/postgres@3.4.9.patch fixes two defects of postgres.js 3.4.9's write scheduler
 * (porsager/postgres#1154, #1066, #1208; LanternOps/breeze#3225). Each scenario runs in a child
 * process against a fake PostgreSQL server, once with the installed (patched) driver and once
 * with a copy the patch is taken back out of, so the test proves both that the scenario
 * reproduces the defect and that the patch removes it. Remove this file with the patch when an
 * upstream release carries the fix.
 */
const here = dirname(fileURLToPath(import.meta.url))
const fixture = join(here, 'fixtures', 'postgres-write-race.mjs')
const patchFile = resolve(here, '../../../patches/postgres@3.4.9.patch')
// `postgres` resolves to cjs/src/index.js (its `default` export condition).
const installed = resolve(dirname(createRequire(import.meta.url).resolve('postgres')), '../..')

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function run(command: string, args: string[], cwd?: string): Promise<Run> {
  return new Promise((done) => {
    execFile(command, args, { cwd, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0
      done({ code, stdout, stderr })
    })
  })
}

const scenario = (name: string, packageDir: string) =>
  run(process.execPath, [fixture, name, packageDir])
const outcomeOf = (result: Run) => JSON.parse(result.stdout.trim()) as Record<string, unknown>

let unpatched: string
beforeAll(async () => {
  unpatched = join(mkdtempSync(join(tmpdir(), 'postgres-unpatched-')), 'postgres')
  cpSync(installed, unpatched, { recursive: true, dereference: true })
  const reverse = await run('git', ['apply', '-R', patchFile], unpatched)
  if (reverse.code !== 0) throw new Error(`could not take the patch back out: ${reverse.stderr}`)
})
afterAll(() => {
  if (unpatched) rmSync(dirname(unpatched), { recursive: true, force: true })
})

describe('postgres.js 3.4.9 write scheduler (patched)', () => {
  it('is the patched build', async () => {
    expect((await run('git', ['apply', '--check', '-R', patchFile], installed)).code).toBe(0)
  })

  it('a transaction whose backend dies rejects CONNECTION_CLOSED instead of killing the process', async () => {
    const [before, after] = await Promise.all([
      scenario('begin-crash', unpatched),
      scenario('begin-crash', installed),
    ])
    // Without the patch: the driver's own ROLLBACK reaches nextWrite with a null socket.
    expect(before.code).toBe(1)
    expect(before.stderr).toContain("Cannot read properties of null (reading 'write')")
    expect(before.stderr).toContain('at Immediate.nextWrite')
    // With it: the transaction fails like any lost connection, and the pool serves the next query.
    expect(after.stderr).toBe('')
    expect(after.code).toBe(0)
    expect(outcomeOf(after)).toEqual({
      transaction: 'rejected CONNECTION_CLOSED',
      after: 'resolved',
    })
  })

  it('a socket that closes with a write buffered leaves a slot that reconnects', async () => {
    const [before, after] = await Promise.all([
      scenario('poisoned-reconnect', unpatched),
      scenario('poisoned-reconnect', installed),
    ])
    // Without the patch: the cancelled flush is never re-armed, the new socket gets no startup.
    expect(before.code).toBe(0)
    expect(outcomeOf(before)).toMatchObject({
      lost: 'rejected CONNECTION_CLOSED',
      reconnected: 'rejected CONNECT_TIMEOUT',
      secondSocketBytes: 0,
    })
    expect(after.code).toBe(0)
    expect(outcomeOf(after)).toMatchObject({
      first: 'resolved',
      lost: 'rejected CONNECTION_CLOSED',
      reconnected: 'resolved',
      startupSent: true,
    })
  })
})
