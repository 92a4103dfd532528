import { audited, updateProduct } from '@e-stars/billing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyCatalog } from '../src/apply-catalog.ts'
import { CATALOG, FIRST_PACK, PACKS } from './catalog-words.ts'
import { memoryLogger, type Stack, startStack } from './stack.ts'

let stack: Stack
beforeAll(async () => {
  stack = await startStack()
})
afterAll(() => stack?.close())

const listed = async (key: string) =>
  (await stack.client.products.list.query()).find((p) => p.key === key)

describe('the bot’s catalog.ts, applied to its project on start', () => {
  it('creates what is missing, updates what changed, and is idempotent', async () => {
    const logger = memoryLogger()
    const first = await applyCatalog(stack.client, logger)
    expect(first.map((r) => r.key)).toEqual(CATALOG.map((p) => p.key))
    for (const p of CATALOG) expect(await listed(p.key)).toMatchObject({ priceStars: p.priceStars })

    const repriced = CATALOG.map((p) =>
      p.key === FIRST_PACK.key ? { ...p, priceStars: p.priceStars + 7 } : p,
    )
    const extra = { ...FIRST_PACK, key: 'pack_xs', title: 'Pack XS', credits: 100, priceStars: 12 }
    const second = await applyCatalog(stack.client, logger, [...repriced, extra])
    expect(second.find((r) => r.key === FIRST_PACK.key)?.outcome).toBe('updated')
    expect(second.find((r) => r.key === 'pack_xs')?.outcome).toBe('created')
    expect(await listed(FIRST_PACK.key)).toMatchObject({ priceStars: FIRST_PACK.priceStars + 7 })

    const third = await applyCatalog(stack.client, logger, [...repriced, extra])
    expect(third.every((r) => r.outcome === 'unchanged')).toBe(true)
  })

  it('never overwrites an operator’s console edit: the console’s version wins, and the log says so', async () => {
    const pack = PACKS[1] ?? FIRST_PACK
    await audited(
      stack.db,
      (tx) =>
        updateProduct(tx, {
          projectId: stack.projectId,
          key: pack.key,
          patch: { priceStars: pack.priceStars + 1 },
        }),
      {
        projectId: stack.projectId,
        actor: 'operator:owner@example.com',
        action: 'product.update',
        target: `product:${pack.key}`,
      },
    )
    const logger = memoryLogger()
    const results = await applyCatalog(stack.client, logger)
    expect(results.find((r) => r.key === pack.key)).toMatchObject({
      outcome: 'kept',
      editedBy: 'operator:owner@example.com',
    })
    expect(await listed(pack.key)).toMatchObject({ priceStars: pack.priceStars + 1 })
    const warned = logger.lines.find((l) => l.obj.productKey === pack.key)
    expect(warned?.level).toBe('warn')
    expect(warned?.msg).toMatch(/the console’s version wins/)
    // The file's own change to another product still applies.
    expect(results.find((r) => r.key === FIRST_PACK.key)?.outcome).toBe('updated')
  })

  it('an operator who undoes their console edit hands the product back to the file', async () => {
    const pack = PACKS[2] ?? FIRST_PACK
    const logger = memoryLogger()
    const described = { ...pack, description: `${pack.description}, now with more` }
    const rest = CATALOG.filter((p) => p.key !== pack.key)
    expect((await applyCatalog(stack.client, logger, [...rest, described])).at(-1)?.outcome).toBe(
      'updated',
    )
    const byOperator = (priceStars: number) =>
      audited(
        stack.db,
        (tx) =>
          updateProduct(tx, { projectId: stack.projectId, key: pack.key, patch: { priceStars } }),
        {
          projectId: stack.projectId,
          actor: 'operator:owner@example.com',
          action: 'product.update',
          target: `product:${pack.key}`,
        },
      )
    await byOperator(pack.priceStars + 5)
    const repriced = { ...described, priceStars: pack.priceStars + 9 }
    const kept = await applyCatalog(stack.client, logger, [...rest, repriced])
    expect(kept.at(-1)?.outcome).toBe('kept')
    await byOperator(pack.priceStars)
    const handedBack = await applyCatalog(stack.client, logger, [...rest, repriced])
    expect(handedBack.at(-1)?.outcome).toBe('updated')
    expect(await listed(pack.key)).toMatchObject({ priceStars: pack.priceStars + 9 })
  })
})
