import { createAsync, query } from '@solidjs/router'
import { api } from './api.ts'
import { useSession } from './session.tsx'

/** Every product of the project, archived ones too: old payments name products no longer sold. */
export const listAllProducts = query(
  (projectId: string) => api.operator.products.list.query({ projectId, includeArchived: true }),
  'products-all',
)

/** A product key → its title ("pack_s" → "Pack S"); the key itself until the catalog has loaded. */
export function useProductTitle() {
  const session = useSession()
  const products = createAsync(() => listAllProducts(session.projectId()))
  return (key: string | null) =>
    key === null ? '—' : (products()?.find((p) => p.key === key)?.title ?? key)
}

/** Newest payment first by the time it was paid (the Paid column), ties by arrival. */
export const byPaidAtDesc = <T extends { paidAt: string; id?: number | string }>(a: T, b: T) =>
  b.paidAt.localeCompare(a.paidAt) || Number(b.id ?? 0) - Number(a.id ?? 0)
