/**
 * The bot's HTTP path does no work it does not need (issue 13, "a lean HTTP path"): an API call
 * never becomes a file look-up in the console's directory, even a GET (tRPC queries are GETs),
 * and a file that happens to sit under an API path there is never served in its place.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestDatabase } from '@e-stars/db/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const silent = { info() {}, warn() {}, error() {} }
const dir = mkdtempSync(join(tmpdir(), 'estars-console-dir-'))
let server: RunningServer

beforeAll(async () => {
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>')
  writeFileSync(join(dir, 'app.js'), 'console.log("the console")')
  for (const path of ['trpc', 'api/v1', 'healthz']) mkdirSync(join(dir, path), { recursive: true })
  writeFileSync(join(dir, 'trpc', 'project.whoami'), 'a stray file')
  writeFileSync(join(dir, 'api', 'v1', 'openapi.json'), 'a stray file')
  server = await startServer(parseEnv({ PORT: '0', CONSOLE_DIR: dir }), silent, {
    database: await createTestDatabase(),
  })
})
afterAll(async () => {
  await server?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe("the console's files and the API paths", () => {
  it('serves the console files', async () => {
    expect(server.consoleServed).toBe(true)
    const response = await fetch(`${server.url}/app.js`)
    expect(response.status).toBe(200)
    expect(await response.text()).toContain('the console')
  })

  it('a GET under /trpc or /api reaches the API, never a file of the console', async () => {
    const trpc = await fetch(`${server.url}/trpc/project.whoami`)
    expect(trpc.status).toBe(401)
    expect(await trpc.text()).not.toContain('a stray file')
    const rest = await fetch(`${server.url}/api/v1/openapi.json`)
    expect(await rest.text()).not.toContain('a stray file')
  })
})
