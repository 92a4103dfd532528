import type { EStarsClient } from '@e-stars/client'
import { describe, expect, it } from 'vitest'
import { createBulkMeter } from '../src/bulk.ts'

type Item = { telegramUserId: number; feature: string; quantity: number; idempotencyKey: string }

/** A `usage.consumeFeatureMany` that refuses odd quantities, and records every call. */
function fakeClient(fail = false) {
  const calls: Item[][] = []
  const client = {
    usage: {
      consumeFeatureMany: {
        mutate: async ({ items }: { items: Item[] }) => {
          calls.push(items)
          if (fail) throw new Error('e-Stars is down')
          return items.map((item) =>
            item.quantity % 2
              ? { ok: false, error: { code: 'QUOTA_EXCEEDED', message: 'quota' } }
              : { ok: true, result: { quantity: item.quantity, key: item.idempotencyKey } },
          )
        },
      },
    },
  } as unknown as EStarsClient
  return { client, calls }
}

const item = (i: number): Item => ({
  telegramUserId: 1 + (i % 7),
  feature: 'messages',
  quantity: i % 5,
  idempotencyKey: `msg:${i}`,
})

describe('createBulkMeter', () => {
  it('sends 2,500 items as calls of 1,000, 1,000 and 500, each item getting its own outcome', async () => {
    const { client, calls } = fakeClient()
    const meter = createBulkMeter({ client, flushMs: 10_000 })
    const outcomes = Array.from({ length: 2500 }, (_, i) => meter.add(item(i)))
    await meter.flush()
    expect(calls.map((c) => c.length)).toEqual([1000, 1000, 500])
    expect(calls.flat().map((c) => c.idempotencyKey)).toEqual(
      Array.from({ length: 2500 }, (_, i) => `msg:${i}`),
    )
    const got = await Promise.all(outcomes)
    got.forEach((outcome, i) => {
      if ((i % 5) % 2)
        expect(outcome).toMatchObject({ ok: false, error: { code: 'QUOTA_EXCEEDED' } })
      else expect(outcome).toEqual({ ok: true, result: { quantity: i % 5, key: `msg:${i}` } })
    })
  })

  it('sends what waited flushMs without a flush; nothing is sent twice', async () => {
    const { client, calls } = fakeClient()
    const meter = createBulkMeter({ client, flushMs: 20 })
    const a = meter.add(item(0))
    const b = meter.add(item(2))
    expect(calls).toEqual([])
    expect(await Promise.all([a, b])).toHaveLength(2)
    expect(calls.map((c) => c.length)).toEqual([2])
    await meter.flush()
    expect(calls).toHaveLength(1)
  })

  it('a failed call rejects every item of it (their keys make adding them again safe)', async () => {
    const { client } = fakeClient(true)
    const meter = createBulkMeter({ client, maxItems: 2 })
    const results = await Promise.allSettled([0, 2, 4].map((i) => meter.add(item(i))))
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
  })
})
