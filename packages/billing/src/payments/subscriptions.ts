import {
  type Executor,
  entitlements,
  rows,
  subscriptionStateChanges,
  subscriptions,
  type Tx,
} from '@e-stars/db'
import type { BotApi } from '@e-stars/telegram'
import { and, asc, desc, eq, gte, isNull, sql } from 'drizzle-orm'
import { NotFound } from '../errors.ts'
import type { Secrets } from '../identity/secrets.ts'
import { upsertAndLockCustomer } from '../ledger/customers.ts'
import { emitEvent } from '../ledger/events.ts'
import { customerIdOf } from '../ledger/lookup.ts'
import { transact } from '../ledger/transaction.ts'
import { telegramFailure } from './refunds.ts'

export { emitEvent }

const DAY_MS = 86_400_000

/** Telegram's renewal state of a subscription (Bot API 10.2 `BotSubscriptionUpdated.state`). */
export type RenewalState = 'active' | 'canceled' | 'failed'
export const RENEWAL_STATES: readonly RenewalState[] = ['active', 'canceled', 'failed']

/** Who changed a renewal state: Telegram's update, an operator, or e-Stars after a refund or block. */
export type RenewalStateSource = 'telegram' | 'operator' | 'refund' | 'block' | 'reconciliation'

const columns = {
  id: subscriptions.id,
  productKey: subscriptions.productKey,
  firstChargeId: subscriptions.firstChargeId,
  status: subscriptions.status,
  currentPeriodEnd: subscriptions.currentPeriodEnd,
  canceledAt: subscriptions.canceledAt,
  renewalState: subscriptions.renewalState,
  renewalStateAt: subscriptions.renewalStateAt,
  createdAt: subscriptions.createdAt,
  telegramUserId:
    sql<number>`(select c.telegram_user_id from customers c where c.project_id = ${subscriptions.projectId} and c.id = ${subscriptions.customerId})`.mapWith(
      Number,
    ),
  graceDays:
    sql<number>`(select p.subscription_grace_days from projects p where p.id = ${subscriptions.projectId})`.mapWith(
      Number,
    ),
}

interface SubscriptionRow {
  id: string
  productKey: string
  firstChargeId: string
  status: string
  currentPeriodEnd: Date
  canceledAt: Date | null
  renewalState: string
  renewalStateAt: Date | null
  createdAt: Date
  telegramUserId: number
  graceDays: number
}

/**
 * When access ends: the paid period's end, or — after a failed renewal — that end plus the
 * project's grace days (Telegram may still retry the charge). A cancel keeps the paid period.
 */
export function accessEndOf(
  row: Pick<SubscriptionRow, 'currentPeriodEnd' | 'renewalState' | 'graceDays'>,
) {
  const grace = row.renewalState === 'failed' ? row.graceDays * DAY_MS : 0
  return new Date(row.currentPeriodEnd.getTime() + grace)
}

function present(row: SubscriptionRow, now: Date) {
  const accessEndsAt = accessEndOf(row)
  // `ended` is derived: access that ran out with no renewal, whatever the stored status.
  const ended = accessEndsAt <= now
  const { graceDays: _grace, ...rest } = row
  return {
    ...rest,
    status: ended && row.status !== 'refunded' ? 'ended' : row.status,
    renewalState: row.renewalState as RenewalState,
    /** Whether the subscription gives access now (a canceled one does until the period ends). */
    active: !ended && row.status !== 'refunded',
    /** Whether Telegram will try to charge the next period. */
    renews: row.renewalState === 'active' && row.status === 'active' && !ended,
    currentPeriodEnd: row.currentPeriodEnd.toISOString(),
    accessEndsAt: accessEndsAt.toISOString(),
    canceledAt: row.canceledAt?.toISOString() ?? null,
    renewalStateAt: row.renewalStateAt?.toISOString() ?? null,
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

/** A subscription's renewal-state history, oldest first (the console's customer page). */
export async function subscriptionHistory(
  db: Executor,
  input: { projectId: string; subscriptionId: string },
) {
  const list = await db
    .select({
      id: subscriptionStateChanges.id,
      state: subscriptionStateChanges.state,
      source: subscriptionStateChanges.source,
      updateId: subscriptionStateChanges.updateId,
      details: subscriptionStateChanges.details,
      occurredAt: subscriptionStateChanges.occurredAt,
    })
    .from(subscriptionStateChanges)
    .where(
      and(
        eq(subscriptionStateChanges.projectId, input.projectId),
        eq(subscriptionStateChanges.subscriptionId, input.subscriptionId),
      ),
    )
    .orderBy(asc(subscriptionStateChanges.id))
  return list.map((c) => ({
    ...c,
    state: c.state as RenewalState,
    occurredAt: c.occurredAt.toISOString(),
  }))
}

export interface StateChange {
  /** `applied`: the state changed; `unchanged`: it already was (or this update was seen). */
  result: 'applied' | 'unchanged'
  previous: RenewalState
  subscription: Subscription
}

/**
 * Moves a subscription to a renewal state, in the caller's transaction, and records why: the
 * history row, the event, and the entitlement's end — the paid period's end, plus the grace days
 * while a renewal has failed. Idempotent: the same state again (or the same update id) is a no-op.
 */
export async function applyRenewalState(
  tx: Tx,
  input: {
    projectId: string
    subscriptionId: string
    state: RenewalState
    source: RenewalStateSource
    updateId?: number | undefined
    details?: Record<string, unknown> | undefined
    now: Date
  },
): Promise<StateChange> {
  const where = and(
    eq(subscriptions.projectId, input.projectId),
    eq(subscriptions.id, input.subscriptionId),
  )
  const [current] = await tx.select(columns).from(subscriptions).where(where).for('update')
  if (!current) throw new NotFound('Subscription', input.subscriptionId)
  const previous = current.renewalState as RenewalState
  const seen =
    input.updateId !== undefined &&
    (
      await tx
        .select({ id: subscriptionStateChanges.id })
        .from(subscriptionStateChanges)
        .where(
          and(
            eq(subscriptionStateChanges.projectId, input.projectId),
            eq(subscriptionStateChanges.subscriptionId, input.subscriptionId),
            eq(subscriptionStateChanges.updateId, input.updateId),
          ),
        )
    ).length > 0
  if (seen || previous === input.state)
    return { result: 'unchanged', previous, subscription: present(current, input.now) }
  const status =
    input.state === 'canceled'
      ? sql`case when ${subscriptions.status} = 'active' then 'canceled' else ${subscriptions.status} end`
      : input.state === 'active'
        ? sql`case when ${subscriptions.status} = 'canceled' then 'active' else ${subscriptions.status} end`
        : subscriptions.status
  const [row] = await tx
    .update(subscriptions)
    .set({
      renewalState: input.state,
      renewalStateAt: input.now,
      status,
      canceledAt:
        input.state === 'canceled'
          ? input.now
          : input.state === 'active'
            ? null
            : current.canceledAt,
    })
    .where(where)
    .returning(columns)
  const accessEndsAt = accessEndOf(row!)
  // The last period's entitlement ends where access now ends; earlier periods are untouched.
  await tx
    .update(entitlements)
    .set({ endsAt: accessEndsAt })
    .where(
      and(
        eq(entitlements.projectId, input.projectId),
        eq(entitlements.subscriptionId, input.subscriptionId),
        isNull(entitlements.revokedAt),
        gte(entitlements.endsAt, row!.currentPeriodEnd),
      ),
    )
  await tx.insert(subscriptionStateChanges).values({
    projectId: input.projectId,
    subscriptionId: input.subscriptionId,
    state: input.state,
    source: input.source,
    updateId: input.updateId ?? null,
    details: { previous, ...input.details },
    occurredAt: input.now,
  })
  const [owner] = await rows<{ customer_id: string }>(
    tx,
    sql`select customer_id from subscriptions where project_id = ${input.projectId} and id = ${input.subscriptionId}`,
  )
  await emitEvent(tx, {
    projectId: input.projectId,
    customerId: Number(owner!.customer_id),
    type: STATE_EVENTS[input.state],
    payload: {
      subscriptionId: input.subscriptionId,
      productKey: row!.productKey,
      telegramUserId: row!.telegramUserId,
      state: input.state,
      previous,
      source: input.source,
      currentPeriodEnd: row!.currentPeriodEnd.toISOString(),
      accessEndsAt: accessEndsAt.toISOString(),
    },
  })
  return { result: 'applied', previous, subscription: present(row!, input.now) }
}

/**
 * The outbox event of each renewal state, under the names webhooks publish (docs/webhooks.md):
 * a re-enabled subscription renews again. The payload says the state and the one before.
 */
const STATE_EVENTS: Record<RenewalState, string> = {
  active: 'subscription.renewed',
  canceled: 'subscription.cancelled',
  failed: 'subscription.failed',
}

/** Bot API 10.2 `BotSubscriptionUpdated`, as Telegram names it. */
export interface SubscriptionUpdateInput {
  user: {
    id: number
    username?: string | undefined
    first_name?: string | undefined
    last_name?: string | undefined
    language_code?: string | undefined
  }
  invoice_payload: string
  state: string
}

export type SubscriptionUpdateOutcome =
  | ({ status: 'applied' | 'unchanged'; flag: null } & Omit<StateChange, 'result'>)
  | {
      status: 'flagged'
      flag: 'unknown_state' | 'unknown_payload' | 'no_subscription'
      subscription: null
    }

/**
 * Records a `subscription` update (the user cancelled, re-enabled, or failed to renew) at once.
 * The subscription is the payer's one started by the payload's order. An update naming no such
 * subscription (a payload not ours, an order that never became a subscription, a state Telegram
 * added later) is stored as a flagged `subscription.update_unmatched` event: never dropped.
 */
export async function recordSubscriptionUpdate(
  db: Executor,
  input: {
    projectId: string
    update: SubscriptionUpdateInput
    secrets: Secrets
    updateId?: number | undefined
    now?: Date | undefined
  },
): Promise<SubscriptionUpdateOutcome> {
  const now = input.now ?? new Date()
  const u = input.update
  return transact(db, async (tx) => {
    const customer = await upsertAndLockCustomer(tx, input.projectId, u.user.id, {
      username: u.user.username,
      firstName: u.user.first_name,
      lastName: u.user.last_name,
      languageCode: u.user.language_code,
    })
    const flagged = async (flag: 'unknown_state' | 'unknown_payload' | 'no_subscription') => {
      await emitEvent(tx, {
        projectId: input.projectId,
        customerId: customer.id,
        type: 'subscription.update_unmatched',
        payload: { flag, updateId: input.updateId ?? null, update: { ...u } },
      })
      return { status: 'flagged', flag, subscription: null } as const
    }
    if (!RENEWAL_STATES.includes(u.state as RenewalState)) return flagged('unknown_state')
    const ref = input.secrets.verifyOrderRef(input.projectId, u.invoice_payload)
    if (!ref.ok) return flagged('unknown_payload')
    const [found] = await rows<{ id: string }>(
      tx,
      sql`select s.id from subscriptions s
          join payments p on p.project_id = s.project_id and p.subscription_id = s.id
          where s.project_id = ${input.projectId} and s.customer_id = ${customer.id}
            and p.order_id = ${ref.orderId}
          order by s.created_at limit 1`,
    )
    if (!found) return flagged('no_subscription')
    const change = await applyRenewalState(tx, {
      projectId: input.projectId,
      subscriptionId: found.id,
      state: u.state as RenewalState,
      source: 'telegram',
      updateId: input.updateId,
      now,
    })
    return {
      status: change.result,
      flag: null,
      previous: change.previous,
      subscription: change.subscription,
    }
  })
}

/**
 * Stops (or, with `canceled: false`, resumes) renewal through `editUserStarSubscription`, then
 * records the new state. Access stays until the period that was paid for ends.
 */
export async function cancelSubscription(
  db: Executor,
  input: {
    projectId: string
    subscriptionId: string
    botApi: Pick<BotApi, 'editUserStarSubscription'>
    canceled?: boolean | undefined
    source?: RenewalStateSource | undefined
    details?: Record<string, unknown> | undefined
    now?: Date | undefined
  },
): Promise<Subscription> {
  const now = input.now ?? new Date()
  const [subscription] = await db
    .select(columns)
    .from(subscriptions)
    .where(
      and(eq(subscriptions.projectId, input.projectId), eq(subscriptions.id, input.subscriptionId)),
    )
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
  const change = await transact(db, (tx) =>
    applyRenewalState(tx, {
      projectId: input.projectId,
      subscriptionId: input.subscriptionId,
      state: canceled ? 'canceled' : 'active',
      source: input.source ?? 'operator',
      details: input.details,
      now,
    }),
  )
  return change.subscription
}

/**
 * After a refund of a subscription charge or a block has committed: stops the renewal at
 * Telegram (a call after the transaction, never inside it) and records it. A failure is returned,
 * not thrown — the refund or block stands; the operator can cancel again from the console.
 */
export async function stopRenewalsAfter(
  db: Executor,
  input: {
    projectId: string
    reason: 'refund' | 'block'
    /** The refunded charge's subscription, or (block) every renewing one of the customer. */
    subscriptionIds: string[]
    botApi: Pick<BotApi, 'editUserStarSubscription'>
    now?: Date | undefined
  },
): Promise<Array<{ subscriptionId: string; stopped: boolean; error: string | null }>> {
  const results: Array<{ subscriptionId: string; stopped: boolean; error: string | null }> = []
  for (const subscriptionId of input.subscriptionIds) {
    try {
      await cancelSubscription(db, {
        projectId: input.projectId,
        subscriptionId,
        botApi: input.botApi,
        source: input.reason,
        now: input.now,
      })
      results.push({ subscriptionId, stopped: true, error: null })
    } catch (error) {
      results.push({
        subscriptionId,
        stopped: false,
        error: error instanceof Error ? error.message : String(error),
      })
    }
  }
  return results
}

/** A customer's subscriptions that would still renew: what blocking them must stop. */
export async function renewingSubscriptionIds(
  db: Executor,
  input: { projectId: string; telegramUserId: number; now?: Date | undefined },
): Promise<string[]> {
  const list = await listSubscriptions(db, input)
  return list.filter((s) => s.renews).map((s) => s.id)
}
