import { describe, expect, it } from 'vitest'
import { botCaller, useDatabase } from './fixtures.ts'

const handle = useDatabase()

describe('ledger.timeline', () => {
  it('lists a customer’s entries newest first, each in plain words', async () => {
    const { caller } = await botCaller(handle.db)
    await caller.customers.upsert({ telegramUserId: 42 })
    await caller.credits.grant({
      telegramUserId: 42,
      amount: 500,
      reason: 'Welcome bonus',
      source: 'promo',
      idempotencyKey: 'g1',
    })
    await caller.usage.consume({
      telegramUserId: 42,
      amount: 12,
      reason: 'AI answer',
      idempotencyKey: 'c1',
      metadata: { tokens: 1200 },
    })
    const page = await caller.ledger.timeline({ telegramUserId: 42, limit: 10 })
    expect(page.entries.map((e) => e.text)).toEqual([
      '−12 credits: AI answer, 1,200 tokens',
      '+500: promo, Welcome bonus',
    ])
    expect(page.entries[0]).toMatchObject({ kind: 'consume', change: '−12', availableAfter: 488 })
    expect(page.nextCursor).toBeNull()
  })

  it('is scoped to the key’s project: another project’s customer is not found', async () => {
    const { caller } = await botCaller(handle.db, 'other')
    await expect(caller.ledger.timeline({ telegramUserId: 42, limit: 10 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
  })
})
