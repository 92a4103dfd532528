import { randomUUID } from 'node:crypto'
import { createOperator, grantCredits } from '@e-stars/billing'
import type { Db } from '@e-stars/db'
import { TRPCError } from '@trpc/server'
import { beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { appRouter, createCallerFactory, createInnerContext } from '../src/index.ts'
import { botCaller, silentLogger, useDatabase } from './fixtures.ts'

const t = useDatabase()
const createCaller = createCallerFactory(appRouter)

type Caller = ReturnType<typeof createCaller>
let bot: Caller
let operator: Caller
let projectId: string

/** The refusal of `call`: a TRPCError, with the fields its zod error names. */
async function refusal(call: Promise<unknown>) {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TRPCError)
  const trpc = error as TRPCError
  const fields =
    trpc.cause instanceof z.ZodError ? Object.keys(z.flattenError(trpc.cause).fieldErrors) : []
  return { code: trpc.code, fields }
}

function operatorCaller(db: Db, session: { token: string | null; csrf: string | null }) {
  return createCaller(
    createInnerContext(
      { db, logger: silentLogger },
      {
        sessionToken: session.token,
        csrfToken: session.csrf,
        clientIp: '192.0.2.44',
        sessionCookie: {
          set: (token) => {
            session.token = token
          },
          clear: () => {
            session.token = null
          },
        },
      },
    ),
  )
}

beforeAll(async () => {
  const shop = await botCaller(t.db, 'Text inputs')
  bot = shop.caller
  projectId = shop.project.id
  await createOperator(t.db, { email: 'text@x.io', password: 'password123', projectId })
  const session = { token: null as string | null, csrf: null as string | null }
  const login = await operatorCaller(t.db, session).operator.auth.login({
    email: 'text@x.io',
    password: 'password123',
  })
  session.csrf = login.csrfToken
  operator = operatorCaller(t.db, session)
  await grantCredits(t.db, {
    projectId,
    telegramUserId: 42,
    amount: 100,
    reason: 'Welcome',
    source: 'promo',
    actor: 'system',
    idempotencyKey: randomUUID(),
  })
})

const NUL = '\u0000'
const key = () => randomUUID()

describe('one text rule for every procedure', () => {
  it('refuses a NUL in a customer first name as BAD_REQUEST naming firstName', async () => {
    const r = await refusal(bot.customers.upsert({ telegramUserId: 42, firstName: `Ali${NUL}ce` }))
    expect(r).toEqual({ code: 'BAD_REQUEST', fields: ['firstName'] })
  })

  it('refuses NUL, control characters and lone surrogates in reasons and keys', async () => {
    const grant = { telegramUserId: 42, amount: 1, reason: 'Promo', idempotencyKey: key() }
    for (const reason of [`a${NUL}b`, 'a\u0007b', 'a\u0085b', 'a\ud800b', 'a\udc00']) {
      expect(await refusal(bot.credits.grant({ ...grant, reason }))).toEqual({
        code: 'BAD_REQUEST',
        fields: ['reason'],
      })
    }
    expect(await refusal(bot.usage.consume({ ...grant, idempotencyKey: `k${NUL}` }))).toEqual({
      code: 'BAD_REQUEST',
      fields: ['idempotencyKey'],
    })
    expect(
      await refusal(bot.usage.consume({ ...grant, metadata: { model: `gpt${NUL}` } })),
    ).toEqual({ code: 'BAD_REQUEST', fields: ['metadata'] })
  })

  it('keeps line breaks in a reason and refuses them in a name', async () => {
    const granted = await bot.credits.grant({
      telegramUserId: 42,
      amount: 1,
      reason: 'Sorry for the outage\n\tticket 12',
      idempotencyKey: key(),
    })
    expect(granted).toMatchObject({ available: 101 })
    expect(
      await refusal(bot.customers.upsert({ telegramUserId: 42, firstName: 'Ali\nce' })),
    ).toEqual({ code: 'BAD_REQUEST', fields: ['firstName'] })
    // Well-formed pairs (emoji) and right-to-left names are text like any other.
    await expect(
      bot.customers.upsert({ telegramUserId: 42, firstName: 'علي 👩‍💻', username: 'ali' }),
    ).resolves.toMatchObject({ firstName: 'علي 👩‍💻' })
  })

  it('refuses a NUL in a charge id', async () => {
    expect(await refusal(bot.payments.get({ telegramPaymentChargeId: `c${NUL}` }))).toEqual({
      code: 'BAD_REQUEST',
      fields: ['telegramPaymentChargeId'],
    })
  })

  // That it is refused before it is counted: apps/server/test/sign-in-limits.test.ts.
  it('refuses a NUL in a login email', async () => {
    const anonymous = operatorCaller(t.db, { token: null, csrf: null })
    expect(
      await refusal(anonymous.operator.auth.login({ email: `a${NUL}@x.io`, password: 'pw' })),
    ).toEqual({ code: 'BAD_REQUEST', fields: ['email'] })
  })

  it('refuses a NUL in an API key name, the customer search and the audit filter', async () => {
    expect(
      await refusal(operator.operator.apiKeys.create({ projectId, name: `bot${NUL}` })),
    ).toEqual({ code: 'BAD_REQUEST', fields: ['name'] })
    expect(
      await refusal(operator.operator.customers.search({ projectId, query: `al${NUL}` })),
    ).toEqual({ code: 'BAD_REQUEST', fields: ['query'] })
    expect(
      await refusal(operator.operator.audit.list({ projectId, action: `product${NUL}` })),
    ).toEqual({ code: 'BAD_REQUEST', fields: ['action'] })
  })

  it('refuses a string longer than its kind allows', async () => {
    expect(
      await refusal(operator.operator.customers.search({ projectId, query: 'a'.repeat(101) })),
    ).toEqual({ code: 'BAD_REQUEST', fields: ['query'] })
    expect(
      await refusal(
        bot.credits.grant({
          telegramUserId: 42,
          amount: 1,
          reason: 'x'.repeat(501),
          idempotencyKey: key(),
        }),
      ),
    ).toEqual({ code: 'BAD_REQUEST', fields: ['reason'] })
  })
})

describe('one number rule for every procedure', () => {
  it('refuses −0 where zero is allowed', async () => {
    const hold = await bot.usage.reserve({
      telegramUserId: 42,
      amount: 2,
      reason: 'AI answer',
      idempotencyKey: key(),
    })
    expect(
      await refusal(bot.usage.settle({ holdId: hold.holdId, amount: -0, idempotencyKey: key() })),
    ).toEqual({ code: 'BAD_REQUEST', fields: ['amount'] })
  })

  it('refuses integers past what the database stores', async () => {
    for (const amount of [2 ** 53, 2 ** 63, 1e308, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(
        await refusal(
          bot.credits.grant({ telegramUserId: 42, amount, reason: 'x', idempotencyKey: key() }),
        ),
      ).toEqual({ code: 'BAD_REQUEST', fields: ['amount'] })
    }
    expect(await refusal(bot.ledger.list({ telegramUserId: 42, cursor: '9'.repeat(19) }))).toEqual({
      code: 'BAD_REQUEST',
      fields: ['cursor'],
    })
    // Ids are safe integers: a cursor past 2^53 names no row, and rounds to another on the way in.
    for (const cursor of ['9223372036854775807', '9007199254740992'])
      expect(await refusal(operator.operator.customers.search({ projectId, cursor }))).toEqual({
        code: 'BAD_REQUEST',
        fields: ['cursor'],
      })
  })
})
