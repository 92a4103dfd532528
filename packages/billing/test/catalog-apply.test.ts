import { auditLog, products } from '@e-stars/db'
import { eq } from 'drizzle-orm'
import { beforeAll, describe, expect, it } from 'vitest'
import { applyCatalog, InvalidInput, recordAudit, updateProduct } from '../src/index.ts'
import { createProject, useDatabase } from './fixtures.ts'

const t = useDatabase()
let projectId: string

const pack = {
  key: 'pack_s',
  kind: 'pack' as const,
  title: 'Pack S',
  description: '500 credits',
  priceStars: 50,
  credits: 500,
}
const plus = {
  key: 'plus',
  kind: 'unlock' as const,
  title: 'Plus',
  description: 'Plus for 30 days',
  priceStars: 100,
  featureKey: 'plus',
  durationDays: 30,
}

const apply = (list: Parameters<typeof applyCatalog>[1]['products']) =>
  applyCatalog(t.db, { projectId, actor: 'api-key:test', products: list })

const stored = () =>
  t.db.select({ key: products.key }).from(products).where(eq(products.projectId, projectId))

beforeAll(async () => {
  projectId = await createProject(t.db)
})

describe("a bot's catalog applied to its project", () => {
  it('writes nothing when one product of the catalog is refused (all or none)', async () => {
    await expect(apply([pack, { ...plus, priceStars: 0 }])).rejects.toBeInstanceOf(InvalidInput)
    expect(await stored()).toEqual([])
    expect(await t.db.select().from(auditLog).where(eq(auditLog.projectId, projectId))).toEqual([])
  })

  it('refuses a catalog that names one key twice, naming the second', async () => {
    const refusal = await apply([pack, plus, { ...pack, title: 'Pack S again' }]).catch(
      (error: unknown) => error,
    )
    expect(refusal).toBeInstanceOf(InvalidInput)
    expect((refusal as InvalidInput).field).toBe('products.2.key')
    expect(await stored()).toEqual([])
  })

  it('creates, then leaves alone, then updates; an operator edit since wins', async () => {
    expect((await apply([pack, plus])).map((r) => r.outcome)).toEqual(['created', 'created'])
    expect((await apply([pack, plus])).map((r) => r.outcome)).toEqual(['unchanged', 'unchanged'])
    expect((await apply([{ ...pack, priceStars: 60 }, plus])).map((r) => r.outcome)).toEqual([
      'updated',
      'unchanged',
    ])
    // As the console does it: the change, and its audit entry by the operator.
    const before = (await apply([{ ...pack, priceStars: 60 }, plus]))[1]?.product ?? null
    const after = await updateProduct(t.db, { projectId, key: 'plus', patch: { priceStars: 120 } })
    await recordAudit(t.db, {
      projectId,
      actor: 'operator:owner@example.com',
      action: 'product.update',
      target: 'product:plus',
      before,
      after,
    })
    const [, kept] = await apply([
      { ...pack, priceStars: 60 },
      { ...plus, priceStars: 110 },
    ])
    expect(kept).toMatchObject({ outcome: 'kept', product: { priceStars: 120 } })
  })
})
