/**
 * Defect 8 (CLI): bad arguments never reach the database raw. Each is refused with one line
 * naming the argument, a non-zero exit, and never SQL.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestDatabase } from '@e-stars/db/testing'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AdminCommandError, parseAdminCommand, runAdminCommand, UsageError } from '../src/admin.ts'
import { parseEnv } from '../src/env.ts'
import { startServer } from '../src/server.ts'
import { captureLogs } from './log-capture.ts'
import { runCli } from './spawn-server.ts'

const SQL = /Failed query|params:|select |insert into|PostgresError|DrizzleQueryError/i

describe('pnpm cli refuses bad arguments before the database', () => {
  let dataDir: string
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'estars-cli-'))
  })
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it('key create --project not-a-uuid: one line naming --project, exit 1, no SQL', async () => {
    const { code, stderr } = await runCli(['key', 'create', '--project', 'not-a-uuid'], {
      DATA_DIR: dataDir,
    })
    expect(code).toBe(1)
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr).toMatch(/^--project must be a project id/)
    expect(stderr).not.toMatch(SQL)
  })

  it('project create --time-zone Mars/Olympus names the time zone', async () => {
    const { code, stderr } = await runCli(
      ['project', 'create', 'Mars bot', '--time-zone', 'Mars/Olympus'],
      { DATA_DIR: dataDir },
    )
    expect(code).toBe(1)
    expect(stderr.trim()).toMatch(/^--time-zone must be an IANA time zone/)
  })
})

describe('the admin commands check every argument', () => {
  const project = randomUUID()
  const refusals: [string[], RegExp][] = [
    [['key', 'create', '--project', 'not-a-uuid'], /^--project must be a project id/],
    [['key', 'list', '--project', "1' or '1'='1"], /^--project must be a project id/],
    [['key', 'revoke', '--project', project, 'nope'], /^<keyId> must be a key id/],
    [['key', 'create', '--project', project, '--name', 'a\u0000b'], /^--name must not contain/],
    [['key', 'create', '--project', project, '--name', '   '], /^--name must not be empty/],
    [['project', 'create', 'x'.repeat(101)], /^<name> must be at most 100/],
    [['project', 'create', 'Bot', '--time-zone', 'Mars/Olympus'], /^--time-zone must be/],
    [['project', 'create'], /^Missing <name>/],
    [['project', 'create', 'My', 'Bot'], /^Unexpected argument "Bot"/],
    [['operator', 'create', 'a@b.c', '--role', 'admin'], /^--role must be owner or viewer/],
    [['operator', 'create', 'a@b.c', '--password', 'short'], /^--password must be at least 8/],
    [['operator', 'create', 'a@b.c', '--project', 'x'], /^--project must be a project id/],
    [['key', 'create', '--projct', project], /^Unknown option '--projct'/],
    [['nothing', 'here'], /^Usage: pnpm cli/],
  ]
  for (const [argv, message] of refusals)
    it(`refuses ${JSON.stringify(argv)}`, () => {
      let error: unknown
      try {
        parseAdminCommand(argv)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(UsageError)
      expect((error as Error).message).toMatch(message)
    })

  it('accepts a well-formed command as it was', () => {
    expect(
      parseAdminCommand(['project', 'create', ' Demo ', '--time-zone', 'Europe/Berlin']),
    ).toEqual({ command: 'project create', name: 'Demo', timeZone: 'Europe/Berlin' })
  })

  it('engine refusals come back as one line, never as SQL', async () => {
    const database = await createTestDatabase()
    try {
      const refused = (argv: string[]) =>
        runAdminCommand(database.db, argv).then(
          () => {
            throw new Error(`${argv.join(' ')} was accepted`)
          },
          (error: unknown) => error as AdminCommandError,
        )
      const unknown = await refused(['key', 'create', '--project', project])
      expect(unknown).toBeInstanceOf(AdminCommandError)
      expect(unknown.status).toBe(404)
      expect(unknown.message).toBe(`Project ${project} not found`)
      await runAdminCommand(database.db, ['operator', 'create', 'same@example.com'])
      const taken = await refused(['operator', 'create', 'same@example.com'])
      expect(taken).toBeInstanceOf(AdminCommandError)
      expect(taken.message).toMatch(/already exists/)
      expect(taken.message).not.toMatch(SQL)
    } finally {
      await database.close()
    }
  })
})

describe('pnpm cli through the server that owns the embedded database', () => {
  it('a refusal is one line; an unexpected error is one generic line, logged without parameters', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'estars-cli-server-'))
    const capture = captureLogs()
    const server = await startServer(
      parseEnv({ PORT: '0', DATA_DIR: dataDir, DEMO_DATA: 'off', RECONCILE_INTERVAL_SECONDS: '0' }),
      capture.logger,
    )
    try {
      const unknown = randomUUID()
      const refused = await runCli(['key', 'create', '--project', unknown], { DATA_DIR: dataDir })
      expect(refused.code).toBe(1)
      expect(refused.stderr.trim()).toBe(`Project ${unknown} not found`)
      // A constraint the engine does not expect: the insert of a second key named the same.
      await server.database.db.execute(
        sql.raw('create unique index cli_one_key_per_name on api_keys (project_id, name)'),
      )
      const argv = ['key', 'create', '--project', server.demoProjectId!, '--name', 'twice']
      expect((await runCli(argv, { DATA_DIR: dataDir })).code).toBe(0)
      const failed = await runCli(argv, { DATA_DIR: dataDir })
      expect(failed.code).toBe(1)
      expect(failed.stderr.trim()).toBe('The command failed unexpectedly; see the server log')
      const logged = capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(logged.find((l) => l.msg === 'admin command failed')?.err).toMatchObject({
        code: '23505',
        constraint: 'cli_one_key_per_name',
      })
      expect(capture.leaks({})).toEqual([])
    } finally {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 180_000)
})
