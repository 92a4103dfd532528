import { costCaps, customers, type Executor, priceBook } from '@e-stars/db'
import { and, asc, eq } from 'drizzle-orm'
import { InvalidInput, NotFound } from '../errors.ts'
import { normalise } from './usage.ts'

/**
 * The operator's side of margin control: the price book and the cost caps. Checked here too (the
 * API's zod schemas say it first): a negative price, a cap of 0 or less, a cap scope without its
 * target → InvalidInput naming the field, nothing written.
 */

export interface PriceBookEntryInput {
  projectId: string
  provider: string
  model: string
  inputPerMillionMicros: number
  outputPerMillionMicros: number
  cachedInputPerMillionMicros?: number | null | undefined
  updatedBy: string
}

const wholeMicros = (field: string, value: number) => {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new InvalidInput(field, 'must be a whole number of micro-USD, 0 or more')
}

/** Adds or replaces one model's prices. */
export async function setModelPrice(db: Executor, input: PriceBookEntryInput) {
  const provider = normalise(input.provider)
  const model = normalise(input.model)
  if (!provider) throw new InvalidInput('provider', 'must not be empty')
  if (!model) throw new InvalidInput('model', 'must not be empty')
  wholeMicros('inputPerMillionMicros', input.inputPerMillionMicros)
  wholeMicros('outputPerMillionMicros', input.outputPerMillionMicros)
  if (input.cachedInputPerMillionMicros != null)
    wholeMicros('cachedInputPerMillionMicros', input.cachedInputPerMillionMicros)
  const values = {
    inputPerMillionMicros: input.inputPerMillionMicros,
    outputPerMillionMicros: input.outputPerMillionMicros,
    cachedInputPerMillionMicros: input.cachedInputPerMillionMicros ?? null,
    updatedBy: input.updatedBy,
    updatedAt: new Date(),
  }
  const [row] = await db
    .insert(priceBook)
    .values({ projectId: input.projectId, provider, model, ...values })
    .onConflictDoUpdate({
      target: [priceBook.projectId, priceBook.provider, priceBook.model],
      set: values,
    })
    .returning()
  return row!
}

export async function listPriceBook(db: Executor, projectId: string) {
  return db
    .select()
    .from(priceBook)
    .where(eq(priceBook.projectId, projectId))
    .orderBy(asc(priceBook.provider), asc(priceBook.model))
}

export async function removeModelPrice(
  db: Executor,
  input: { projectId: string; provider: string; model: string },
) {
  const removed = await db
    .delete(priceBook)
    .where(
      and(
        eq(priceBook.projectId, input.projectId),
        eq(priceBook.provider, normalise(input.provider)),
        eq(priceBook.model, normalise(input.model)),
      ),
    )
    .returning({ model: priceBook.model })
  if (removed.length === 0) throw new NotFound('Price', `${input.provider}/${input.model}`)
  return { removed: true }
}

export interface CostCapInput {
  projectId: string
  scope: 'project' | 'product' | 'customer'
  period: 'day' | 'month'
  capMicros: number
  productKey?: string | null | undefined
  /** For a customer override. */
  telegramUserId?: number | null | undefined
}

/** Adds a cost cap. A customer override names the customer by Telegram id (created if new? no: must exist). */
export async function addCostCap(db: Executor, input: CostCapInput) {
  if (!Number.isSafeInteger(input.capMicros) || input.capMicros <= 0)
    throw new InvalidInput('capMicros', 'must be a whole number of micro-USD above 0')
  let customerId: number | null = null
  let productKey: string | null = null
  if (input.scope === 'product') {
    if (!input.productKey) throw new InvalidInput('productKey', 'is required for a product cap')
    productKey = input.productKey
  } else if (input.productKey) throw new InvalidInput('productKey', 'is only for a product cap')
  if (input.scope === 'customer') {
    if (!input.telegramUserId)
      throw new InvalidInput('telegramUserId', 'is required for a customer cap')
    const [found] = await db
      .select({ id: customers.id })
      .from(customers)
      .where(
        and(
          eq(customers.projectId, input.projectId),
          eq(customers.telegramUserId, input.telegramUserId),
        ),
      )
    if (!found) throw new NotFound('Customer', input.telegramUserId)
    customerId = Number(found.id)
  } else if (input.telegramUserId)
    throw new InvalidInput('telegramUserId', 'is only for a customer cap')
  const [row] = await db
    .insert(costCaps)
    .values({
      projectId: input.projectId,
      scope: input.scope,
      period: input.period,
      capMicros: input.capMicros,
      productKey,
      customerId,
    })
    .returning()
  return { ...row!, telegramUserId: input.scope === 'customer' ? input.telegramUserId! : null }
}

export async function listCostCaps(db: Executor, projectId: string) {
  return db
    .select({
      id: costCaps.id,
      scope: costCaps.scope,
      period: costCaps.period,
      capMicros: costCaps.capMicros,
      productKey: costCaps.productKey,
      telegramUserId: customers.telegramUserId,
      createdAt: costCaps.createdAt,
    })
    .from(costCaps)
    .leftJoin(
      customers,
      and(eq(customers.projectId, costCaps.projectId), eq(customers.id, costCaps.customerId)),
    )
    .where(eq(costCaps.projectId, projectId))
    .orderBy(asc(costCaps.createdAt), asc(costCaps.id))
}

export async function removeCostCap(db: Executor, input: { projectId: string; capId: string }) {
  const removed = await db
    .delete(costCaps)
    .where(and(eq(costCaps.projectId, input.projectId), eq(costCaps.id, input.capId)))
    .returning({ id: costCaps.id })
  if (removed.length === 0) throw new NotFound('Cost cap', input.capId)
  return { removed: true }
}
