import { randomUUID } from 'node:crypto'
import { TRPCError } from '@trpc/server'
import { describe, expect, it } from 'vitest'
import { anonymousCaller, botCaller, useDatabase } from './fixtures.ts'

const t = useDatabase()
const k = () => randomUUID()

async function errorOf(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TRPCError)
  return error as TRPCError
}

describe('bot procedures', () => {
  it('grant, balance, consume, reserve, settle, release and the ledger work through the router', async () => {
    const { caller } = await botCaller(t.db)
    await caller.customers.upsert({ telegramUserId: 42, username: 'alice', firstName: 'Alice' })
    expect(await caller.customers.get({ telegramUserId: 42 })).toMatchObject({
      username: 'alice',
      blocked: false,
    })
    await caller.credits.grant({
      telegramUserId: 42,
      amount: 100,
      reason: 'welcome',
      idempotencyKey: k(),
    })
    expect(
      await caller.usage.consume({
        telegramUserId: 42,
        amount: 10,
        reason: 'AI',
        idempotencyKey: k(),
      }),
    ).toMatchObject({
      available: 90,
    })
    const hold = await caller.usage.reserve({
      telegramUserId: 42,
      amount: 30,
      reason: 'AI',
      idempotencyKey: k(),
    })
    expect(await caller.credits.balance({ telegramUserId: 42 })).toMatchObject({
      available: 60,
      held: 30,
    })
    expect(
      await caller.usage.settle({ holdId: hold.holdId, amount: 12, idempotencyKey: k() }),
    ).toMatchObject({ charged: 12, returned: 18, available: 78, held: 0 })
    const second = await caller.usage.reserve({
      telegramUserId: 42,
      amount: 8,
      reason: 'AI',
      idempotencyKey: k(),
    })
    expect(
      await caller.usage.release({ holdId: second.holdId, idempotencyKey: k() }),
    ).toMatchObject({ available: 78 })
    const page = await caller.ledger.list({ telegramUserId: 42 })
    expect(page.entries.map((e) => e.kind)).toEqual([
      'release',
      'hold',
      'settle',
      'hold',
      'consume',
      'grant',
    ])
    expect(typeof page.entries[0]!.createdAt).toBe('string')
  })

  it('insufficient credits is PRECONDITION_FAILED carrying available and required', async () => {
    const { caller } = await botCaller(t.db)
    await caller.credits.grant({ telegramUserId: 1, amount: 5, reason: 'x', idempotencyKey: k() })
    const error = await errorOf(
      caller.usage.consume({ telegramUserId: 1, amount: 6, reason: 'x', idempotencyKey: k() }),
    )
    expect(error.code).toBe('PRECONDITION_FAILED')
    expect(error.cause).toMatchObject({ code: 'INSUFFICIENT_CREDITS', available: 5, required: 6 })
  })

  it('reusing a key for a different request is CONFLICT', async () => {
    const { caller } = await botCaller(t.db)
    await caller.credits.grant({
      telegramUserId: 1,
      amount: 5,
      reason: 'x',
      idempotencyKey: 'same',
    })
    const error = await errorOf(
      caller.credits.grant({ telegramUserId: 1, amount: 6, reason: 'x', idempotencyKey: 'same' }),
    )
    expect(error.code).toBe('CONFLICT')
  })
})

describe('authentication and tenant isolation', () => {
  it('no key, an unknown key and a revoked key are UNAUTHORIZED', async () => {
    expect((await errorOf(anonymousCaller(t.db).credits.balance({ telegramUserId: 1 }))).code).toBe(
      'UNAUTHORIZED',
    )
    expect(
      (await errorOf(anonymousCaller(t.db, 'esk_nope').credits.balance({ telegramUserId: 1 })))
        .code,
    ).toBe('UNAUTHORIZED')
    const { key, project } = await botCaller(t.db)
    const { revokeApiKey } = await import('@e-stars/billing')
    await revokeApiKey(t.db, { projectId: project.id, keyId: key.id })
    expect(
      (await errorOf(anonymousCaller(t.db, key.key).credits.balance({ telegramUserId: 1 }))).code,
    ).toBe('UNAUTHORIZED')
  })

  it("a project's key cannot read or change another project's customers", async () => {
    const a = await botCaller(t.db, 'a')
    const b = await botCaller(t.db, 'b')
    await a.caller.credits.grant({
      telegramUserId: 77,
      amount: 50,
      reason: 'x',
      idempotencyKey: k(),
    })
    const hold = await a.caller.usage.reserve({
      telegramUserId: 77,
      amount: 10,
      reason: 'x',
      idempotencyKey: k(),
    })
    expect((await errorOf(b.caller.credits.balance({ telegramUserId: 77 }))).code).toBe('NOT_FOUND')
    expect((await errorOf(b.caller.customers.get({ telegramUserId: 77 }))).code).toBe('NOT_FOUND')
    expect((await errorOf(b.caller.ledger.list({ telegramUserId: 77 }))).code).toBe('NOT_FOUND')
    expect(
      (
        await errorOf(
          b.caller.usage.consume({
            telegramUserId: 77,
            amount: 1,
            reason: 'x',
            idempotencyKey: k(),
          }),
        )
      ).code,
    ).toBe('NOT_FOUND')
    expect(
      (
        await errorOf(
          b.caller.usage.settle({ holdId: hold.holdId, amount: 1, idempotencyKey: k() }),
        )
      ).code,
    ).toBe('NOT_FOUND')
    expect(
      (await errorOf(b.caller.usage.release({ holdId: hold.holdId, idempotencyKey: k() }))).code,
    ).toBe('NOT_FOUND')
    expect(await a.caller.credits.balance({ telegramUserId: 77 })).toMatchObject({
      available: 40,
      held: 10,
    })
  })
})

describe('bad input', () => {
  const uuid = '00000000-0000-4000-8000-000000000000'
  const cases: Array<
    [string, string, (c: Awaited<ReturnType<typeof botCaller>>['caller']) => Promise<unknown>]
  > = [
    ['customers.upsert', 'telegramUserId', (c) => c.customers.upsert({ telegramUserId: -1 })],
    ['customers.get', 'telegramUserId', (c) => c.customers.get({ telegramUserId: 1.5 })],
    ['credits.balance', 'telegramUserId', (c) => c.credits.balance({ telegramUserId: 2 ** 60 })],
    [
      'credits.grant',
      'amount',
      (c) => c.credits.grant({ telegramUserId: 1, amount: 0, reason: 'x', idempotencyKey: 'k' }),
    ],
    [
      'credits.grant',
      'reason',
      (c) => c.credits.grant({ telegramUserId: 1, amount: 5, reason: ' ', idempotencyKey: 'k' }),
    ],
    [
      'credits.grant',
      'expiresAt',
      (c) =>
        c.credits.grant({
          telegramUserId: 1,
          amount: 5,
          reason: 'x',
          idempotencyKey: 'k',
          expiresAt: 'soon',
        }),
    ],
    [
      'usage.consume',
      'amount',
      (c) => c.usage.consume({ telegramUserId: 1, amount: 1.5, reason: 'x', idempotencyKey: 'k' }),
    ],
    [
      'usage.consume',
      'idempotencyKey',
      (c) => c.usage.consume({ telegramUserId: 1, amount: 1, reason: 'x', idempotencyKey: '' }),
    ],
    [
      'usage.reserve',
      'ttlSeconds',
      (c) =>
        c.usage.reserve({
          telegramUserId: 1,
          amount: 1,
          reason: 'x',
          idempotencyKey: 'k',
          ttlSeconds: 0,
        }),
    ],
    [
      'usage.settle',
      'holdId',
      (c) => c.usage.settle({ holdId: 'nope', amount: 1, idempotencyKey: 'k' }),
    ],
    [
      'usage.settle',
      'amount',
      (c) => c.usage.settle({ holdId: uuid, amount: -1, idempotencyKey: 'k' }),
    ],
    ['usage.release', 'holdId', (c) => c.usage.release({ holdId: '', idempotencyKey: 'k' })],
    ['ledger.list', 'limit', (c) => c.ledger.list({ telegramUserId: 1, limit: 500 })],
    ['ledger.list', 'cursor', (c) => c.ledger.list({ telegramUserId: 1, cursor: 'abc' })],
  ]

  it.each(cases)(
    '%s rejects a bad %s with BAD_REQUEST naming the field and writes nothing',
    async (_p, field, call) => {
      const { caller } = await botCaller(t.db)
      const error = await errorOf(call(caller))
      expect(error.code).toBe('BAD_REQUEST')
      const issues = (error.cause as { issues?: Array<{ path: PropertyKey[] }> }).issues ?? []
      expect(issues.map((i) => i.path[0])).toContain(field)
      expect((await errorOf(caller.customers.get({ telegramUserId: 1 }))).code).toBe('NOT_FOUND')
    },
  )
})
