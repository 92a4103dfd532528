import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const serverDir = fileURLToPath(new URL('..', import.meta.url))
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url))

function child(mode: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      tsx,
      ['test/outage-last-resort-child.ts', mode],
      { cwd: serverDir, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

describe('the last resort (uncaughtException / unhandledRejection)', () => {
  it.each([
    ['throw', 'uncaughtException', "Cannot read properties of null (reading 'write')"],
    ['reject', 'unhandledRejection', 'nobody handled this rejection'],
  ])('%s: logs one line and exits 1 for the supervisor', async (mode, kind, message) => {
    const result = await child(mode)
    expect(result.code).toBe(1)
    expect(result.stdout).not.toContain('still alive')
    const lines = result.stdout.trim().split('\n')
    expect(lines).toHaveLength(1)
    const line = JSON.parse(lines[0]!) as Record<string, unknown>
    expect(line).toMatchObject({
      level: 60,
      kind,
      msg: `${kind}: exiting for the supervisor to restart`,
      err: { message },
    })
  })
})
