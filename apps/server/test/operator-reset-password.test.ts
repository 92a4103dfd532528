/** Issue 18, item 5: the way back into the console when the printed login is lost. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { authenticateSession, login } from '@e-stars/billing'
import type { Database } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AdminCommandError, parseAdminCommand, runAdminCommand } from '../src/admin.ts'
import { runCli } from './spawn-server.ts'

describe('pnpm cli operator reset-password', () => {
  let database: Database
  beforeAll(async () => {
    database = await createTestDatabase()
  })
  afterAll(() => database.close())

  it('prints a new password once; the old one and its sessions stop working', async () => {
    const db = database.db
    await runAdminCommand(db, [
      'operator',
      'create',
      'lost@example.com',
      '--password',
      'the-old-one',
    ])
    const before = await login(db, { email: 'lost@example.com', password: 'the-old-one' })
    const reset = await runAdminCommand(db, ['operator', 'reset-password', 'Lost@Example.com'])
    const password = /Password \(shown once\): (\S+)/.exec(reset.text)?.[1]
    expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/)
    expect(reset.text).toContain('1 console session(s) signed out')
    expect(reset.json).toMatchObject({ email: 'lost@example.com', password, sessionsEnded: 1 })
    await expect(
      login(db, { email: 'lost@example.com', password: 'the-old-one' }),
    ).rejects.toThrow()
    expect(await authenticateSession(db, before.token)).toBeNull()
    const after = await login(db, { email: 'lost@example.com', password: password! })
    expect(after.operator.email).toBe('lost@example.com')
  })

  it('a chosen password is not printed back', async () => {
    const result = await runAdminCommand(database.db, [
      'operator',
      'reset-password',
      'lost@example.com',
      '--password',
      'chosen-by-me',
    ])
    expect(result.text).not.toContain('chosen-by-me')
    expect(result.json).not.toHaveProperty('password')
    await login(database.db, { email: 'lost@example.com', password: 'chosen-by-me' })
  })

  it('an unknown email is a one-line 404; a short password never reaches the database', async () => {
    const refusal = await runAdminCommand(database.db, [
      'operator',
      'reset-password',
      'nobody@example.com',
    ]).catch((error: unknown) => error as AdminCommandError)
    expect(refusal).toBeInstanceOf(AdminCommandError)
    expect((refusal as AdminCommandError).status).toBe(404)
    expect((refusal as AdminCommandError).message).toBe('Operator nobody@example.com not found')
    expect(() =>
      parseAdminCommand(['operator', 'reset-password', 'a@b.c', '--password', 'short']),
    ).toThrow(/^--password must be at least 8/)
    expect(() => parseAdminCommand(['operator', 'reset-password'])).toThrow(/^Missing <email>/)
  })

  it('pnpm cli: the password is printed once, on stdout; an unknown email is one line on stderr', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'estars-reset-'))
    try {
      const env = { DATA_DIR: dataDir }
      expect((await runCli(['operator', 'create', 'cli@example.com'], env)).code).toBe(0)
      const reset = await runCli(['operator', 'reset-password', 'cli@example.com'], env)
      expect(reset.code).toBe(0)
      expect(reset.stdout).toMatch(
        /^New password for cli@example\.com; 0 console session\(s\) signed out\nPassword \(shown once\): [A-Za-z0-9_-]{16}\n$/,
      )
      const unknown = await runCli(['operator', 'reset-password', 'nobody@example.com'], env)
      expect(unknown.code).toBe(1)
      expect(unknown.stderr.trim()).toBe('Operator nobody@example.com not found')
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 240_000)
})
