import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createApiKey, createProject } from '@e-stars/billing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Stack, startStack } from '../src/testing.ts'

const clientDir = fileURLToPath(new URL('../../../clients/python', import.meta.url))
let stack: Stack
let otherKey: string

beforeAll(async () => {
  stack = await startStack()
  const other = await createProject(stack.db, { name: 'another Python bot' })
  otherKey = (await createApiKey(stack.db, { projectId: other.id, name: 'other' })).key
})
afterAll(() => stack?.close())

/** Runs a command to its end; asynchronous, so this process keeps serving the REST calls. */
function run(command: string, args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(command, args, { cwd: clientDir, env: { ...process.env, ...env } })
    let output = ''
    child.stdout.on('data', (chunk) => {
      output += chunk
    })
    child.stderr.on('data', (chunk) => {
      output += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

describe('the Python client (clients/python) against this server', () => {
  it('passes its unittest suite with the machine’s python3, standard library only: a Python bot buys through the sandbox Telegram, spends and is refused', async () => {
    const { code, output } = await run(
      'python3',
      ['-m', 'unittest', 'discover', '-s', 'tests', '-v'],
      {
        ESTARS_URL: stack.server.url,
        ESTARS_API_KEY: stack.apiKey,
        ESTARS_OTHER_API_KEY: otherKey,
        ESTARS_SANDBOX_URL: stack.sandbox.url,
        ESTARS_SANDBOX_CONTROL: stack.sandbox.controlHeaders().authorization ?? '',
        ESTARS_BOT_TOKEN: stack.sandbox.bot().token,
        PYTHONDONTWRITEBYTECODE: '1',
      },
    )
    expect(code, output).toBe(0)
    expect(output).toMatch(/Ran \d+ tests/)
    expect(output).not.toMatch(/skipped/)
  }, 60_000)
})
