import { randomBytes } from 'node:crypto'
import { createOperator, createProject, createSecrets } from '@e-stars/billing'
import type { Db } from '@e-stars/db'
import { TRPCError } from '@trpc/server'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  appRouter,
  createCallerFactory,
  createInnerContext,
  createPaymentServices,
} from '../src/index.ts'
import { silentLogger, useDatabase } from './fixtures.ts'

const t = useDatabase()
const createCaller = createCallerFactory(appRouter)
const secrets = createSecrets(randomBytes(32).toString('base64'))

async function errorOf(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TRPCError)
  return error as TRPCError
}

/** A signed-in console session for `email`, with the server's rule refusing private targets. */
async function consoleAs(db: Db, email: string) {
  const jar = { token: null as string | null, csrf: null as string | null }
  const caller = () =>
    createCaller(
      createInnerContext(
        {
          db,
          logger: silentLogger,
          payments: createPaymentServices({ db, secrets, telegramApiRoot: 'http://127.0.0.1:9' }),
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

let projectId: string
let otherProjectId: string

beforeAll(async () => {
  projectId = (await createProject(t.db, { name: 'Refunds' })).id
  otherProjectId = (await createProject(t.db, { name: 'Elsewhere' })).id
  await createOperator(t.db, { email: 'ra-owner@x.io', password: 'password123', projectId })
  await createOperator(t.db, {
    email: 'ra-viewer@x.io',
    password: 'password123',
    projectId,
    role: 'viewer',
  })
  await createOperator(t.db, {
    email: 'ra-stranger@x.io',
    password: 'password123',
    projectId: otherProjectId,
  })
})

describe('refundAbuse procedures', () => {
  it('an owner sets the policy; viewers read it; the change is audited', async () => {
    const owner = await consoleAs(t.db, 'ra-owner@x.io')
    expect(await owner().refundAbuse.policy({ projectId })).toEqual({
      limit: null,
      windowDays: 30,
      action: 'refuse',
    })
    expect(
      await owner().refundAbuse.setPolicy({ projectId, limit: 3, windowDays: 14, action: 'block' }),
    ).toEqual({ limit: 3, windowDays: 14, action: 'block' })
    const viewer = await consoleAs(t.db, 'ra-viewer@x.io')
    expect(await viewer().refundAbuse.policy({ projectId })).toMatchObject({ limit: 3 })
    expect((await errorOf(viewer().refundAbuse.setPolicy({ projectId, limit: 9 }))).code).toBe(
      'FORBIDDEN',
    )
    expect(await viewer().refundAbuse.customers({ projectId })).toEqual([])
    expect(JSON.stringify(await owner().operator.audit.list({ projectId }))).toContain(
      'settings.refund_abuse',
    )
  })

  it('bad input is BAD_REQUEST naming the field, and nothing is written', async () => {
    const owner = await consoleAs(t.db, 'ra-owner@x.io')
    const before = await owner().refundAbuse.policy({ projectId })
    for (const [patch, field] of [
      [{ limit: 0 }, 'limit'],
      [{ limit: 2.5 }, 'limit'],
      [{ windowDays: 0 }, 'windowDays'],
      [{ windowDays: 400 }, 'windowDays'],
      [{ action: 'ban' }, 'action'],
    ] as const) {
      const error = await errorOf(
        owner().refundAbuse.setPolicy({ projectId, ...(patch as object) } as never),
      )
      expect(error.code).toBe('BAD_REQUEST')
      expect(error.message).toContain(field)
    }
    expect(await owner().refundAbuse.policy({ projectId })).toEqual(before)
  })

  it('another project’s operator sees nothing of this one', async () => {
    const stranger = await consoleAs(t.db, 'ra-stranger@x.io')
    expect((await errorOf(stranger().refundAbuse.policy({ projectId }))).code).toBe('FORBIDDEN')
    expect((await errorOf(stranger().refundAbuse.setPolicy({ projectId, limit: 1 }))).code).toBe(
      'FORBIDDEN',
    )
    expect(
      (await errorOf(stranger().refundAbuse.customer({ projectId, telegramUserId: 1 }))).code,
    ).toBe('FORBIDDEN')
  })
})
