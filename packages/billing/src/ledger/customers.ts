import { customers, type Executor, rows, type Tx } from '@e-stars/db'
import { and, eq, sql } from 'drizzle-orm'
import { CustomerBlocked, NotFound } from '../errors.ts'
import { transact } from './transaction.ts'

export interface TelegramProfile {
  username?: string | null | undefined
  firstName?: string | null | undefined
  lastName?: string | null | undefined
  languageCode?: string | null | undefined
}

/** A customer row locked for the rest of the transaction, with its cached balance. */
export interface LockedCustomer {
  projectId: string
  id: number
  telegramUserId: number
  available: number
  held: number
  debt: number
  nextExpiryAt: Date | null
  blockedAt: Date | null
}

export interface CustomerRow {
  id: string | number
  telegram_user_id: string | number
  available: string | number
  held: string | number
  debt: string | number
  next_expiry_at: string | Date | null
  blocked_at: string | Date | null
}

export const lockedColumns = sql`id, telegram_user_id, available, held, debt, next_expiry_at, blocked_at`

export function toLocked(projectId: string, row: CustomerRow): LockedCustomer {
  return {
    projectId,
    id: Number(row.id),
    telegramUserId: Number(row.telegram_user_id),
    available: Number(row.available),
    held: Number(row.held),
    debt: Number(row.debt),
    nextExpiryAt: row.next_expiry_at === null ? null : new Date(row.next_expiry_at),
    blockedAt: row.blocked_at === null ? null : new Date(row.blocked_at),
  }
}

/**
 * Locks the customer row (`FOR UPDATE`). Every change to a customer's lots, holds or ledger takes
 * this lock first, so the statements after it see the latest committed state.
 */
export async function lockCustomer(
  tx: Tx,
  projectId: string,
  telegramUserId: number,
  options: { allowBlocked?: boolean } = {},
): Promise<LockedCustomer> {
  const [row] = await rows<CustomerRow>(
    tx,
    sql`select ${lockedColumns} from customers
        where project_id = ${projectId} and telegram_user_id = ${telegramUserId} for update`,
  )
  if (!row) throw new NotFound('Customer', telegramUserId)
  const customer = toLocked(projectId, row)
  if (customer.blockedAt && !options.allowBlocked) throw new CustomerBlocked(telegramUserId)
  return customer
}

/** Locks a customer by internal id (used when starting from a hold or a lot). */
export async function lockCustomerById(
  tx: Tx,
  projectId: string,
  customerId: number,
): Promise<LockedCustomer> {
  const [row] = await rows<CustomerRow>(
    tx,
    sql`select ${lockedColumns} from customers where project_id = ${projectId} and id = ${customerId} for update`,
  )
  if (!row) throw new NotFound('Customer', customerId)
  return toLocked(projectId, row)
}

/** Creates the customer if new and locks it, in one statement (`ON CONFLICT DO UPDATE` takes the row lock). */
export async function upsertAndLockCustomer(
  tx: Tx,
  projectId: string,
  telegramUserId: number,
  profile: TelegramProfile = {},
): Promise<LockedCustomer> {
  const [row] = await rows<CustomerRow>(
    tx,
    sql`insert into customers (project_id, telegram_user_id, username, first_name, last_name, language_code)
        values (${projectId}, ${telegramUserId}, ${profile.username ?? null}, ${profile.firstName ?? null},
                ${profile.lastName ?? null}, ${profile.languageCode ?? null})
        on conflict (project_id, telegram_user_id) do update set
          username = coalesce(excluded.username, customers.username),
          first_name = coalesce(excluded.first_name, customers.first_name),
          last_name = coalesce(excluded.last_name, customers.last_name),
          language_code = coalesce(excluded.language_code, customers.language_code),
          last_active_at = now()
        returning ${lockedColumns}`,
  )
  return toLocked(projectId, row!)
}

export interface UpsertCustomerInput extends TelegramProfile {
  projectId: string
  telegramUserId: number
}

export async function upsertCustomer(db: Executor, input: UpsertCustomerInput) {
  return transact(db, async (tx) => {
    await upsertAndLockCustomer(tx, input.projectId, input.telegramUserId, input)
    return getCustomer(tx, input.projectId, input.telegramUserId)
  })
}

export async function getCustomer(db: Executor, projectId: string, telegramUserId: number) {
  const [customer] = await db
    .select({
      telegramUserId: customers.telegramUserId,
      username: customers.username,
      firstName: customers.firstName,
      lastName: customers.lastName,
      languageCode: customers.languageCode,
      blocked: sql<boolean>`${customers.blockedAt} is not null`,
      createdAt: customers.createdAt,
      lastActiveAt: customers.lastActiveAt,
    })
    .from(customers)
    .where(and(eq(customers.projectId, projectId), eq(customers.telegramUserId, telegramUserId)))
  if (!customer) throw new NotFound('Customer', telegramUserId)
  return {
    ...customer,
    createdAt: customer.createdAt.toISOString(),
    lastActiveAt: customer.lastActiveAt.toISOString(),
  }
}

export type Customer = Awaited<ReturnType<typeof getCustomer>>
