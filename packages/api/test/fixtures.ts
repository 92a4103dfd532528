import { randomBytes } from 'node:crypto'
import { createApiKey, createOperator, createProject, createSecrets } from '@e-stars/billing'
import type { Database, Db } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { TRPCError } from '@trpc/server'
import { afterAll, beforeAll, expect } from 'vitest'
import {
  appRouter,
  createCallerFactory,
  createInnerContext,
  createPaymentServices,
  type Logger,
} from '../src/index.ts'

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

/** The TRPCError a call is refused with (fails the test when it is not refused). */
export async function errorOf(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TRPCError)
  return error as TRPCError
}

/** The SECRET_KEY of `consoleAs`'s server (webhook secrets are encrypted under it). */
export const consoleSecrets = createSecrets(randomBytes(32).toString('base64'))

/**
 * A signed-in console session for `email` (password `password123`): a caller factory carrying its
 * cookie and CSRF token, with the server's rule refusing private webhook targets.
 */
export async function consoleAs(db: Db, email: string) {
  const jar = { token: null as string | null, csrf: null as string | null }
  const caller = () =>
    createCaller(
      createInnerContext(
        {
          db,
          logger: silentLogger,
          payments: createPaymentServices({
            db,
            secrets: consoleSecrets,
            telegramApiRoot: 'http://127.0.0.1:9',
          }),
          targetRule: (url) => (url.hostname === '127.0.0.1' ? 'must be a public address' : null),
        },
        {
          sessionToken: jar.token,
          csrfToken: jar.csrf,
          clientIp: '192.0.2.9',
          sessionCookie: {
            set: (token) => {
              jar.token = token
            },
            clear: () => {
              jar.token = null
            },
          },
        },
      ),
    )
  const session = await caller().operator.auth.login({ email, password: 'password123' })
  jar.csrf = session.csrfToken
  return caller
}

/**
 * A project named `name` with an owner (`<prefix>-owner@x.io`) and a viewer
 * (`<prefix>-viewer@x.io`), and another project whose owner (`<prefix>-stranger@x.io`) is not a
 * member of it.
 */
export async function consoleProjects(db: Db, name: string, prefix: string) {
  const projectId = (await createProject(db, { name })).id
  const otherProjectId = (await createProject(db, { name: `${name} (elsewhere)` })).id
  const password = 'password123'
  await createOperator(db, { email: `${prefix}-owner@x.io`, password, projectId })
  await createOperator(db, { email: `${prefix}-viewer@x.io`, password, projectId, role: 'viewer' })
  await createOperator(db, {
    email: `${prefix}-stranger@x.io`,
    password,
    projectId: otherProjectId,
  })
  return { projectId, otherProjectId }
}
