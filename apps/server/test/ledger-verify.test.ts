/**
 * Issue 12, item 9: `pnpm cli ledger verify` and the scheduled verification find a ledger entry
 * rewritten behind the engine's back (docs/security/ledger.md), name it, and exit non-zero.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { consume, createProject, grantCredits } from '@e-stars/billing'
import { rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { parseAdminCommand } from '../src/admin.ts'
import { parseEnv } from '../src/env.ts'
import { ledgerVerification, runLedgerVerification } from '../src/jobs.ts'
import { startServer } from '../src/server.ts'
import { captureLogs } from './log-capture.ts'
import { runCli } from './spawn-server.ts'

describe('pnpm cli ledger verify', () => {
  it('parses an optional project and nothing else', () => {
    expect(parseAdminCommand(['ledger', 'verify'])).toEqual({
      command: 'ledger verify',
      projectId: undefined,
    })
    expect(() => parseAdminCommand(['ledger', 'verify', '--project', 'x'])).toThrow(
      /^--project must be a project id/,
    )
    expect(() => parseAdminCommand(['ledger', 'verify', 'all'])).toThrow(/Unexpected argument/)
  })

  it('exits 0 on a clean ledger; names an entry edited with the trigger off, exits 1; the job logs and counts it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'estars-ledger-verify-'))
    const capture = captureLogs()
    const server = await startServer(
      parseEnv({ PORT: '0', DATA_DIR: dataDir, DEMO_DATA: 'off', RECONCILE_INTERVAL_SECONDS: '0' }),
      capture.logger,
    )
    try {
      const { db } = server.database
      const project = await createProject(db, { name: 'verified bot' })
      const write = { projectId: project.id, telegramUserId: 42, actor: 'test' }
      await grantCredits(db, {
        ...write,
        amount: 100,
        source: 'promo',
        reason: 'welcome',
        idempotencyKey: randomUUID(),
      })
      const spent = await consume(db, {
        ...write,
        amount: 30,
        reason: 'AI answer',
        idempotencyKey: randomUUID(),
      })
      await consume(db, { ...write, amount: 5, reason: 'AI answer', idempotencyKey: randomUUID() })

      const clean = await runCli(['ledger', 'verify'], { DATA_DIR: dataDir })
      expect(clean.stderr).toBe('')
      expect(clean.code).toBe(0)
      expect(clean.stdout).toMatch(
        /^Verified 3 ledger entries of 1 customers in \d+ projects: no findings\./,
      )

      await db.transaction(async (tx) => {
        await tx.execute(sql`alter table ledger_entries disable trigger ledger_entries_append_only`)
        await tx.execute(
          sql`update ledger_entries set amount = -3 where project_id = ${project.id} and id = ${spent.entryId}`,
        )
        await tx.execute(sql`alter table ledger_entries enable trigger ledger_entries_append_only`)
      })
      const [customer] = await rows<{ id: string }>(
        db,
        sql`select id from customers where project_id = ${project.id}`,
      )
      const broken = await runCli(['ledger', 'verify', '--project', project.id], {
        DATA_DIR: dataDir,
      })
      expect(broken.code).toBe(1)
      expect(broken.stdout).toContain(': 1 broken.')
      expect(broken.stdout).toContain(
        `project ${project.id} customer ${customer!.id} (Telegram user 42) entry ${spent.entryId}: hash:`,
      )
      const json = await runCli(['ledger', 'verify', '--json'], { DATA_DIR: dataDir })
      expect(json.code).toBe(1)
      expect(JSON.parse(json.stdout).findings).toMatchObject([
        { projectId: project.id, entryId: spent.entryId, problem: 'hash' },
      ])
      const unknown = randomUUID()
      const missing = await runCli(['ledger', 'verify', '--project', unknown], {
        DATA_DIR: dataDir,
      })
      expect(missing.code).toBe(1)
      expect(missing.stderr.trim()).toBe(`Project ${unknown} not found`)

      const runs = ledgerVerification.runs
      await runLedgerVerification(db, capture.logger)
      expect(ledgerVerification).toMatchObject({ runs: runs + 1, lastFindings: 1, lastEntries: 3 })
      expect(ledgerVerification.lastRunAt).toBeInstanceOf(Date)
      const warned = capture.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'ledger verification found a broken entry')
      expect(warned).toMatchObject([
        { job: 'ledger-verify', projectId: project.id, entryId: spent.entryId, problem: 'hash' },
      ])
      expect(capture.leaks({})).toEqual([])
    } finally {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 180_000)
})
