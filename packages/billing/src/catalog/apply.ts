import { auditLog, type Executor } from '@e-stars/db'
import { and, desc, eq, like } from 'drizzle-orm'
import { InvalidInput, NotFound } from '../errors.ts'
import { recordAudit } from '../identity/audit.ts'
import { transact } from '../ledger/transaction.ts'
import {
  type CreateProductInput,
  createProduct,
  getProduct,
  type Product,
  updateProduct,
} from './products.ts'

export type ApplyOutcome = 'created' | 'updated' | 'unchanged' | 'kept'

export interface ApplyProductResult {
  key: string
  /** `kept`: an operator changed the product in the console since; their version stays. */
  outcome: ApplyOutcome
  /** Who last changed it, when the console's version was kept (`operator:<email>`). */
  editedBy: string | null
  product: Product
}

const TERMS = [
  'kind',
  'title',
  'description',
  'priceStars',
  'credits',
  'creditsExpireDays',
  'featureKey',
  'durationDays',
  'sortOrder',
] as const

/** The terms as stored: what `createProduct` would write for `wanted`. */
function normalized(wanted: Omit<CreateProductInput, 'projectId'>) {
  return {
    kind: wanted.kind,
    title: wanted.title.trim(),
    description: wanted.description.trim(),
    priceStars: wanted.priceStars,
    credits: wanted.credits ?? 0,
    creditsExpireDays: wanted.creditsExpireDays ?? null,
    featureKey: wanted.featureKey ?? null,
    durationDays: wanted.durationDays ?? null,
    sortOrder: wanted.sortOrder ?? 0,
  }
}

/** The last audited change of a product (`product.%`: create, update, archive), or of one kind. */
async function lastChangeOf(tx: Executor, projectId: string, key: string, action = 'product.%') {
  const [row] = await tx
    .select({ actor: auditLog.actor, action: auditLog.action, after: auditLog.after })
    .from(auditLog)
    .where(
      and(
        eq(auditLog.projectId, projectId),
        eq(auditLog.target, `product:${key}`),
        like(auditLog.action, action),
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(1)
  return row ?? null
}

const sameTerms = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  TERMS.every((term) => a[term] === b[term]) && (a.archivedAt ?? null) === (b.archivedAt ?? null)

/**
 * An operator changed the product since a bot last applied it: the last change is theirs and the
 * product is not back at what was last applied (an operator who undid their edit hands it back).
 */
async function editedInConsole(tx: Executor, projectId: string, current: Product) {
  const last = await lastChangeOf(tx, projectId, current.key)
  if (!last?.actor.startsWith('operator:')) return null
  const applied = await lastChangeOf(tx, projectId, current.key, 'product.apply')
  const base = applied?.after as Record<string, unknown> | null | undefined
  return base && sameTerms(current, base) ? null : last.actor
}

/**
 * A bot's own catalog file applied to its project on start, in one transaction (all of it or,
 * when one product is refused, none of it), idempotently: a missing product is created, a
 * changed one updated, an equal one left alone. A product an operator changed in the console
 * (create, update or archive, by the audit log) since the file was last applied is kept as the
 * operator left it, and the answer says so: the console's edit wins over the file. A kind cannot
 * change (orders depend on it): such a product is kept too.
 */
export async function applyCatalog(
  db: Executor,
  input: {
    projectId: string
    actor: string
    products: readonly Omit<CreateProductInput, 'projectId'>[]
  },
): Promise<ApplyProductResult[]> {
  const { projectId, actor, products } = input
  const seen = new Set<string>()
  for (const [index, product] of products.entries()) {
    if (seen.has(product.key))
      throw new InvalidInput(`products.${index}.key`, `names ${product.key} a second time`)
    seen.add(product.key)
  }
  return transact(db, async (tx) => {
    const results: ApplyProductResult[] = []
    for (const product of products) results.push(await applyProduct(tx, projectId, actor, product))
    return results
  })
}

async function applyProduct(
  tx: Executor,
  projectId: string,
  actor: string,
  product: Omit<CreateProductInput, 'projectId'>,
): Promise<ApplyProductResult> {
  const wanted = normalized(product)
  // The bot's writes are audited too: the next apply tells them from an operator's.
  const audit = (before: Product | null, after: Product) =>
    recordAudit(tx, {
      projectId,
      actor,
      action: 'product.apply',
      target: `product:${product.key}`,
      before,
      after,
    })
  const current = await getProduct(tx, projectId, product.key).catch((error: unknown) => {
    if (error instanceof NotFound) return null
    throw error
  })
  if (!current) {
    const created = await createProduct(tx, { ...product, projectId })
    await audit(null, created)
    return { key: product.key, outcome: 'created', editedBy: null, product: created }
  }
  if (TERMS.every((term) => current[term] === wanted[term]))
    return { key: product.key, outcome: 'unchanged', editedBy: null, product: current }
  const editedBy = await editedInConsole(tx, projectId, current)
  if (editedBy !== null || current.kind !== wanted.kind)
    return { key: product.key, outcome: 'kept', editedBy, product: current }
  const { kind: _kind, ...patch } = wanted
  const updated = await updateProduct(tx, { projectId, key: product.key, patch })
  await audit(current, updated)
  return { key: product.key, outcome: 'updated', editedBy: null, product: updated }
}
