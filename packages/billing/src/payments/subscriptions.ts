import { type Executor, subscriptions } from '@e-stars/db'
import type { BotApi } from '@e-stars/telegram'
import { and, desc, eq, sql } from 'drizzle-orm'
import { NotFound } from '../errors.ts'
import { customerIdOf } from '../ledger/lookup.ts'
import { telegramFailure } from './refunds.ts'

const columns = {
  id: subscriptions.id,
  productKey: subscriptions.productKey,
  firstChargeId: subscriptions.firstChargeId,
  status: subscriptions.status,
  currentPeriodEnd: subscriptions.currentPeriodEnd,
  canceledAt: subscriptions.canceledAt,
  createdAt: subscriptions.createdAt,
  telegramUserId:
    sql<number>`(select c.telegram_user_id from customers c where c.project_id = ${subscriptions.projectId} and c.id = ${subscriptions.customerId})`.mapWith(
      Number,
    ),
}

function present(
  row: {
    id: string
    productKey: string
    firstChargeId: string
    status: string
    currentPeriodEnd: Date
    canceledAt: Date | null
    createdAt: Date
    telegramUserId: number
  },
  now: Date,
) {
  // `ended` is derived: a period that ran out with no renewal, whatever the stored status.
  const ended = row.currentPeriodEnd <= now
  return {
    ...row,
    status: ended && row.status !== 'refunded' ? 'ended' : row.status,
    /** Whether the subscription gives access now (a canceled one does until the period ends). */
    active: !ended && row.status !== 'refunded',
    currentPeriodEnd: row.currentPeriodEnd.toISOString(),
    canceledAt: row.canceledAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  }
}

export type Subscription = ReturnType<typeof present>

export async function listSubscriptions(
  db: Executor,
  input: { projectId: string; telegramUserId: number; now?: Date | undefined },
): Promise<Subscription[]> {
  const customerId = await customerIdOf(db, input.projectId, input.telegramUserId)
  const list = await db
    .select(columns)
    .from(subscriptions)
    .where(
      and(eq(subscriptions.projectId, input.projectId), eq(subscriptions.customerId, customerId)),
    )
    .orderBy(desc(subscriptions.createdAt))
  return list.map((s) => present(s, input.now ?? new Date()))
}

/**
 * Stops (or, with `canceled: false`, resumes) renewal through `editUserStarSubscription`.
 * Access stays until the period that was paid for ends.
 */
export async function cancelSubscription(
  db: Executor,
  input: {
    projectId: string
    subscriptionId: string
    botApi: Pick<BotApi, 'editUserStarSubscription'>
    canceled?: boolean | undefined
    now?: Date | undefined
  },
): Promise<Subscription> {
  const now = input.now ?? new Date()
  const where = and(
    eq(subscriptions.projectId, input.projectId),
    eq(subscriptions.id, input.subscriptionId),
  )
  const [subscription] = await db.select(columns).from(subscriptions).where(where)
  if (!subscription) throw new NotFound('Subscription', input.subscriptionId)
  const canceled = input.canceled ?? true
  try {
    await input.botApi.editUserStarSubscription({
      user_id: subscription.telegramUserId,
      telegram_payment_charge_id: subscription.firstChargeId,
      is_canceled: canceled,
    })
  } catch (error) {
    throw telegramFailure('editUserStarSubscription', error)
  }
  const [row] = await db
    .update(subscriptions)
    .set(
      canceled
        ? {
            status: sql`case when ${subscriptions.status} = 'active' then 'canceled' else ${subscriptions.status} end`,
            canceledAt: now,
          }
        : {
            status: sql`case when ${subscriptions.status} = 'canceled' then 'active' else ${subscriptions.status} end`,
            canceledAt: null,
          },
    )
    .where(where)
    .returning(columns)
  return present(row!, now)
}
