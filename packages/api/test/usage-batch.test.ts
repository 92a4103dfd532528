import { randomUUID } from 'node:crypto'
import { blockCustomer, seedDemoFeatures } from '@e-stars/billing'
import { TRPCError } from '@trpc/server'
import { describe, expect, it } from 'vitest'
import { botCaller, useDatabase } from './fixtures.ts'

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

/** The project's non-grant entries, oldest first: who, how much, under which key. */
async function entries(projectId: string) {
  const customers = await t.db.query.customers.findMany({
    where: (c, { eq }) => eq(c.projectId, projectId),
  })
  const userOf = new Map(customers.map((c) => [Number(c.id), String(c.telegramUserId)]))
  const found = await t.db.query.ledgerEntries.findMany({
    where: (e, { and, eq, ne }) => and(eq(e.projectId, projectId), ne(e.kind, 'grant')),
    orderBy: (e, { asc }) => asc(e.id),
  })
  return found.map((e) => ({
    telegram_user_id: userOf.get(Number(e.customerId)),
    kind: e.kind,
    amount: String(e.amount),
    idempotency_key: e.idempotencyKey,
  }))
}

const codes = (outcomes: Array<{ ok: boolean; error?: { code: string } }>) =>
  outcomes.map((o) => (o.ok ? 'ok' : o.error!.code))

describe('usage.consumeMany and usage.consumeFeatureMany', () => {
  it('a mixed batch: each item gets its own outcome and only the successes are written', async () => {
    const { caller, project } = await botCaller(t.db)
    await caller.credits.grant({
      telegramUserId: 1,
      amount: 100,
      reason: 'pack',
      idempotencyKey: k(),
    })
    await caller.credits.grant({
      telegramUserId: 2,
      amount: 100,
      reason: 'pack',
      idempotencyKey: k(),
    })
    await blockCustomer(t.db, { projectId: project.id, telegramUserId: 2 })
    const outcomes = await caller.usage.consumeMany({
      items: [
        { telegramUserId: 1, amount: 10, reason: 'msg', idempotencyKey: 'a' },
        { telegramUserId: 1, amount: 1_000, reason: 'msg', idempotencyKey: 'b' },
        { telegramUserId: 2, amount: 1, reason: 'msg', idempotencyKey: 'c' },
        { telegramUserId: 1, amount: 10, reason: 'msg', idempotencyKey: 'a' },
        { telegramUserId: 1, amount: 11, reason: 'msg', idempotencyKey: 'a' },
        { telegramUserId: 99, amount: 1, reason: 'msg', idempotencyKey: 'e' },
        { telegramUserId: 1, amount: 5, reason: 'msg', idempotencyKey: 'd' },
      ],
    })
    expect(codes(outcomes)).toEqual([
      'ok',
      'INSUFFICIENT_CREDITS',
      'CUSTOMER_BLOCKED',
      'ok',
      'IDEMPOTENCY_CONFLICT',
      'NOT_FOUND',
      'ok',
    ])
    const [first, , , replay, , , last] = outcomes
    expect(first).toMatchObject({ ok: true, result: { consumed: 10, available: 90 } })
    // The replay answers exactly what the first call did, not a second spend.
    expect(replay).toEqual(first)
    expect(last).toMatchObject({ ok: true, result: { consumed: 5, available: 85 } })
    expect(outcomes[1]).toMatchObject({ ok: false, error: { available: 90, required: 1_000 } })
    expect(
      (await entries(project.id)).map((e) => [e.telegram_user_id, e.amount, e.idempotency_key]),
    ).toEqual([
      ['1', '-10', 'a'],
      ['1', '-5', 'd'],
    ])
    expect((await caller.credits.balance({ telegramUserId: 1 })).available).toBe(85)
    expect((await caller.credits.balance({ telegramUserId: 2 })).available).toBe(100)
  })

  it('a mixed feature batch: quota refusal, missing entitlement, blocked, no credits, replay and conflict each on their own', async () => {
    const { caller, project } = await botCaller(t.db)
    await seedDemoFeatures(t.db, project.id)
    await caller.credits.grant({
      telegramUserId: 1,
      amount: 1_000,
      reason: 'pack',
      idempotencyKey: k(),
    })
    await caller.credits.grant({
      telegramUserId: 2,
      amount: 1_000,
      reason: 'pack',
      idempotencyKey: k(),
    })
    await blockCustomer(t.db, { projectId: project.id, telegramUserId: 2 })
    const outcomes = await caller.usage.consumeFeatureMany({
      items: [
        { telegramUserId: 1, feature: 'image', quantity: 9, idempotencyKey: 'i1' },
        { telegramUserId: 1, feature: 'image', quantity: 2, idempotencyKey: 'i2' },
        { telegramUserId: 1, feature: 'pro', quantity: 1, idempotencyKey: 'i3' },
        { telegramUserId: 2, feature: 'image', quantity: 1, idempotencyKey: 'i4' },
        { telegramUserId: 3, feature: 'image', quantity: 1, idempotencyKey: 'i5' },
        { telegramUserId: 1, feature: 'image', quantity: 9, idempotencyKey: 'i1' },
        { telegramUserId: 1, feature: 'image', quantity: 8, idempotencyKey: 'i1' },
        { telegramUserId: 1, feature: 'image', quantity: 1, idempotencyKey: 'i6' },
      ],
    })
    expect(codes(outcomes)).toEqual([
      'ok',
      'QUOTA_EXCEEDED',
      'NO_ENTITLEMENT',
      'CUSTOMER_BLOCKED',
      'INSUFFICIENT_CREDITS',
      'ok',
      'IDEMPOTENCY_CONFLICT',
      'ok',
    ])
    expect(outcomes[5]).toEqual(outcomes[0])
    expect(outcomes[1]).toMatchObject({ error: { limit: 10, used: 9, requested: 2 } })
    expect(outcomes[7]).toMatchObject({ ok: true, result: { credits: 20, available: 800 } })
    expect(
      (await entries(project.id)).map((e) => [e.telegram_user_id, e.amount, e.idempotency_key]),
    ).toEqual([
      ['1', '-180', 'i1'],
      ['1', '-20', 'i6'],
    ])
    // The refusal's event is written as it would be for a lone call.
    const { events } = await caller.events.poll()
    expect(events.map((e) => [e.type, e.telegramUserId])).toContainEqual(['quota.exhausted', 1])
  })

  it('duplicate keys inside one batch behave as if sent one after the other', async () => {
    const items = [
      { telegramUserId: 1, amount: 30, reason: 'm', idempotencyKey: 'x' },
      { telegramUserId: 1, amount: 30, reason: 'm', idempotencyKey: 'x' },
      { telegramUserId: 1, amount: 50, reason: 'm', idempotencyKey: 'y' },
      { telegramUserId: 1, amount: 40, reason: 'm', idempotencyKey: 'z' },
      { telegramUserId: 1, amount: 40, reason: 'm', idempotencyKey: 'z' },
      { telegramUserId: 1, amount: 20, reason: 'm', idempotencyKey: 'z' },
      { telegramUserId: 1, amount: 20, reason: 'm', idempotencyKey: 'w' },
    ]
    const batched = await botCaller(t.db, 'batched')
    const alone = await botCaller(t.db, 'alone')
    for (const bot of [batched, alone]) {
      await bot.caller.credits.grant({
        telegramUserId: 1,
        amount: 100,
        reason: 'p',
        idempotencyKey: k(),
      })
    }
    const together = await batched.caller.usage.consumeMany({ items })
    const oneByOne = []
    for (const item of items) {
      oneByOne.push(
        await alone.caller.usage.consume(item).then(
          (result) => ({ ok: true as const, result }),
          (error: TRPCError) => ({
            ok: false as const,
            code: (error.cause as unknown as { code: string }).code,
          }),
        ),
      )
    }
    const shape = (o: {
      ok: boolean
      result?: { entryId: number }
      error?: { code: string }
      code?: string
    }) => (o.ok ? { ...o.result, entryId: 0 } : (o.error?.code ?? o.code))
    expect(together.map(shape)).toEqual(oneByOne.map(shape))
    // z for 40 is refused twice (a refused act leaves its key unclaimed), then z for 20 fits.
    expect(codes(together)).toEqual([
      'ok',
      'ok',
      'ok',
      'INSUFFICIENT_CREDITS',
      'INSUFFICIENT_CREDITS',
      'ok',
      'INSUFFICIENT_CREDITS',
    ])
    expect((await entries(batched.project.id)).map((e) => e.amount)).toEqual(['-30', '-50', '-20'])
  })

  it('1 to 1,000 items: 1,001 or none is BAD_REQUEST naming items, and nothing is written', async () => {
    const { caller, project } = await botCaller(t.db)
    await caller.credits.grant({
      telegramUserId: 1,
      amount: 5_000,
      reason: 'p',
      idempotencyKey: k(),
    })
    const item = (i: number) => ({
      telegramUserId: 1,
      amount: 1,
      reason: 'm',
      idempotencyKey: `k${i}`,
    })
    const tooMany = await errorOf(
      caller.usage.consumeMany({ items: Array.from({ length: 1_001 }, (_, i) => item(i)) }),
    )
    expect(tooMany.code).toBe('BAD_REQUEST')
    expect(tooMany.message).toContain('items')
    const none = await errorOf(caller.usage.consumeMany({ items: [] }))
    expect(none.code).toBe('BAD_REQUEST')
    const features = await errorOf(
      caller.usage.consumeFeatureMany({
        items: Array.from({ length: 1_001 }, (_, i) => ({
          telegramUserId: 1,
          feature: 'image',
          quantity: 1,
          idempotencyKey: `f${i}`,
        })),
      }),
    )
    expect(features.code).toBe('BAD_REQUEST')
    expect(await entries(project.id)).toEqual([])
    // A bad field inside one item refuses the call before anything runs, naming the item.
    const badItem = await errorOf(
      caller.usage.consumeMany({ items: [item(1), { ...item(2), amount: 0 }] }),
    )
    expect(badItem.code).toBe('BAD_REQUEST')
    expect(badItem.message).toMatch(/items.*1.*amount|amount/)
    expect(await entries(project.id)).toEqual([])
    // Exactly 1,000 is allowed and spends exactly 1,000.
    const full = await caller.usage.consumeMany({
      items: Array.from({ length: 1_000 }, (_, i) => item(i)),
    })
    expect(full.every((o) => o.ok)).toBe(true)
    expect((await caller.credits.balance({ telegramUserId: 1 })).available).toBe(4_000)
  }, 120_000)

  it("a project's batch never reaches another project's customers", async () => {
    const a = await botCaller(t.db, 'a')
    const b = await botCaller(t.db, 'b')
    await a.caller.credits.grant({
      telegramUserId: 7,
      amount: 50,
      reason: 'p',
      idempotencyKey: 'same',
    })
    const outcomes = await b.caller.usage.consumeMany({
      items: [{ telegramUserId: 7, amount: 10, reason: 'm', idempotencyKey: 'same' }],
    })
    expect(codes(outcomes)).toEqual(['NOT_FOUND'])
    expect((await a.caller.credits.balance({ telegramUserId: 7 })).available).toBe(50)
  })
})
