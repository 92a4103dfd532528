/**
 * Issue 12, item 6: in sandbox mode `/miniapp/open` opens the project its link names and no
 * other; it used to redirect anyone who asked to the first project's id.
 */
import { listProjects } from '@e-stars/billing'
import { createTestDatabase } from '@e-stars/db/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'
import { testSecretKey } from './spawn-server.ts'

const silent = { info() {}, warn() {}, error() {} }
let server: RunningServer
let projectId: string

beforeAll(async () => {
  const database = await createTestDatabase()
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    SANDBOX_URL: 'http://127.0.0.1:9',
    SECRET_KEY: testSecretKey(),
  }
  server = await startServer(parseEnv({ ...env, RECONCILE_INTERVAL_SECONDS: '0' }), silent, {
    database,
  })
  projectId = (await listProjects(database.db))[0]!.id
})
afterAll(() => server?.close())

const locationOf = async (path: string) => {
  const response = await fetch(`${server.url}${path}`, { redirect: 'manual' })
  expect(response.status).toBe(302)
  return new URL(response.headers.get('location')!)
}

describe('/miniapp/open in sandbox mode', () => {
  it('names no project when the link names none', async () => {
    const target = await locationOf('/miniapp/open?user=2000002&theme=dark')
    expect(target.searchParams.has('project')).toBe(false)
    expect(target.toString()).not.toContain(projectId)
    expect(Object.fromEntries(target.searchParams)).toEqual({ user: '2000002', theme: 'dark' })
  })

  it('opens the project the link names', async () => {
    const target = await locationOf(`/miniapp/open?project=${projectId}&user=2000001`)
    expect(target.searchParams.get('project')).toBe(projectId)
  })
})
