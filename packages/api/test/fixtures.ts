import { createApiKey, createProject } from '@e-stars/billing'
import type { Database, Db } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { afterAll, beforeAll } from 'vitest'
import { appRouter, createCallerFactory, createInnerContext, type Logger } from '../src/index.ts'

export const silentLogger: Logger = { info() {}, warn() {}, error() {} }

export function useDatabase() {
  const handle = {} as { database: Database; db: Db }
  beforeAll(async () => {
    handle.database = await createTestDatabase()
    handle.db = handle.database.db
  })
  afterAll(() => handle.database?.close())
  return handle
}

const createCaller = createCallerFactory(appRouter)

/** A project with a key, and a caller authenticated with it. */
export async function botCaller(db: Db, name = 'bot') {
  const project = await createProject(db, { name })
  const key = await createApiKey(db, { projectId: project.id, name: 'test' })
  return {
    project,
    key,
    caller: createCaller(createInnerContext({ db, logger: silentLogger }, { apiKey: key.key })),
  }
}

export const anonymousCaller = (db: Db, apiKey: string | null = null) =>
  createCaller(createInnerContext({ db, logger: silentLogger }, { apiKey }))
