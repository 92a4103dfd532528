import { customers, type Executor } from '@e-stars/db'
import { and, eq } from 'drizzle-orm'
import { NotFound } from '../errors.ts'

export async function customerIdOf(
  db: Executor,
  projectId: string,
  telegramUserId: number,
): Promise<number> {
  const [row] = await db
    .select({ id: customers.id })
    .from(customers)
    .where(and(eq(customers.projectId, projectId), eq(customers.telegramUserId, telegramUserId)))
  if (!row) throw new NotFound('Customer', telegramUserId)
  return row.id
}
