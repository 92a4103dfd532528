import { type Db, type Executor, holds, rows, type Tx, usageEvents } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import {
  CostCapReached,
  CustomerBlocked,
  HoldNotActive,
  InsufficientCredits,
  InsufficientCreditsAfterAllowance,
  InvalidInput,
  NoEntitlement,
  NotFound,
  QuotaExceeded,
} from '../errors.ts'
import { getBalance } from '../ledger/balance.ts'
import {
  type LockedCustomer,
  lockCustomerById,
  type TelegramProfile,
  upsertAndLockCustomer,
} from '../ledger/customers.ts'
import { appendEntry } from '../ledger/entries.ts'
import { emitLatched } from '../ledger/events.ts'
import { sweepExpired } from '../ledger/expiry.ts'
import { type EntryFacts, releaseHeldCredits } from '../ledger/held.ts'
import { act } from '../ledger/idempotency.ts'
import { debit, takeFromLots } from '../ledger/lots.ts'
import { transact } from '../ledger/transaction.ts'
import { emitCostCapReached } from '../margin/cap-events.ts'
import { checkCostCap } from '../margin/caps.ts'
import { checkUsage, costOfAct } from '../margin/cost.ts'
import { checkMarginFloor } from '../margin/floor.ts'
import { priceFor } from '../margin/prices.ts'
import type { UsageRecord } from '../margin/usage.ts'
import { valueOfAllocations } from '../margin/value.ts'
import { accessEnd } from './entitlements.ts'
import { creditsFor, type Feature, type FeatureKind } from './features.ts'
import {
  activeHold,
  DEFAULT_HOLD_TTL_SECONDS,
  MAX_HOLD_TTL_SECONDS,
  settleHeldCredits,
} from './holds.ts'
import {
  cappedQuantity,
  type OverageOutcome,
  type OveragePolicy,
  recordShortfall,
  unitsFor,
} from './overage.ts'
import {
  type ApplicableRow,
  candidateQuotas,
  chooseQuotas,
  parseCandidates,
  planQuotas,
  type QuotaPlan,
  type QuotaState,
  type QuotaView,
  quotaStates,
  quotaView,
} from './quotas.ts'

export type AccessReason =
  | 'ok'
  | 'unknown_feature'
  | 'blocked'
  | 'no_entitlement'
  | 'quota_exceeded'
  | 'insufficient_credits'

/** The answer to "may this user do this, now?" — exact at the instant asked. */
export interface AccessAnswer {
  allowed: boolean
  reason: AccessReason
  feature: string
  quantity: number
  /** Credits the request would cost now (after the free allowance). */
  costCredits: number
  /** Units the free allowance would cover. */
  freeQuantity: number
  available: number
  /** The cap that binds (the exceeded one, or the one with least room), or null when none applies. */
  quota: QuotaView
  freeAllowance: QuotaView
  /** Gated features: the entitlement in force (`until: null` = for life), or null without one. */
  entitlement: { until: string | null } | null
}

export interface CheckAccessInput {
  projectId: string
  telegramUserId: number
  feature: string
  quantity?: number | undefined
  now?: Date | undefined
}

interface FeatureContext {
  timeZone: string
  overagePolicy: OveragePolicy
  /** The feature's margin floor, 0–100 %, or null without one (issue 14). */
  marginFloorPercent: number | null
  feature: Feature | null
  customer: {
    id: number
    available: number
    blockedAt: Date | null
    nextExpiryAt: Date | null
  } | null
  /** The quotas that bind this customer for this feature now (none when the feature is unknown). */
  quotas: ApplicableRow[]
}

/**
 * Everything an access decision reads besides usage, in one statement: the project's time zone,
 * the feature (live only unless `includeArchived`), the customer (by Telegram id or internal id)
 * and the quotas that may bind them.
 */
async function loadContext(
  db: Executor,
  input: {
    projectId: string
    featureKey: string
    customer: { telegramUserId: number } | { id: number }
    now: Date
    includeArchived?: boolean
  },
): Promise<FeatureContext> {
  const { projectId, featureKey } = input
  const [row] = await rows<{
    time_zone: string
    overage_policy: OveragePolicy
    feature: unknown
    customer_id: string | null
    available: string | null
    blocked_at: string | Date | null
    next_expiry_at: string | Date | null
    quotas: unknown
  }>(
    db,
    sql`select p.time_zone, p.overage_policy,
          (select row_to_json(f) from (
             select key, name, kind, credits, per_units, client_consumable, archived_at,
               margin_floor_percent from features
             where project_id = p.id and key = ${featureKey}
               ${input.includeArchived ? sql`` : sql`and archived_at is null`}) f) as feature,
          c.id as customer_id, c.available, c.blocked_at, c.next_expiry_at,
          ${candidateQuotas(projectId, featureKey, sql`c.id`, input.now)} as quotas
        from projects p left join customers c on c.project_id = p.id and ${
          'telegramUserId' in input.customer
            ? sql`c.telegram_user_id = ${input.customer.telegramUserId}`
            : sql`c.id = ${input.customer.id}::int8`
        }
        where p.id = ${projectId}`,
  )
  if (!row) throw new NotFound('Project', projectId)
  const f = (typeof row.feature === 'string' ? JSON.parse(row.feature) : row.feature) as {
    key: string
    name: string
    kind: FeatureKind
    credits: number | string
    per_units: number | string
    client_consumable: boolean
    archived_at: string | null
    margin_floor_percent: number | null
  } | null
  return {
    timeZone: row.time_zone,
    overagePolicy: row.overage_policy,
    marginFloorPercent: f?.margin_floor_percent ?? null,
    feature: f
      ? {
          key: f.key,
          name: f.name,
          kind: f.kind,
          credits: Number(f.credits),
          perUnits: Number(f.per_units),
          clientConsumable: f.client_consumable,
          archivedAt: f.archived_at ? new Date(f.archived_at).toISOString() : null,
        }
      : null,
    customer:
      row.customer_id === null
        ? null
        : {
            id: Number(row.customer_id),
            available: Number(row.available),
            blockedAt: row.blocked_at === null ? null : new Date(row.blocked_at),
            nextExpiryAt: row.next_expiry_at === null ? null : new Date(row.next_expiry_at),
          },
    quotas: f ? chooseQuotas(parseCandidates(row.quotas)) : [],
  }
}

function assertQuantity(quantity: number, field = 'quantity', min = 1) {
  if (!Number.isSafeInteger(quantity) || quantity < min) {
    throw new InvalidInput(field, `must be a whole number of units, ${min} or more`)
  }
}

const entitlementView = (end: Date | 'lifetime' | null) =>
  end === null ? null : { until: end === 'lifetime' ? null : end.toISOString() }

/**
 * Answers whether the customer may use `quantity` units of a feature now, and what it would cost,
 * without changing anything. The consuming calls enforce the same rules atomically.
 * Reasons, first that applies: unknown_feature, blocked, no_entitlement, quota_exceeded,
 * insufficient_credits, ok. A customer never seen before has no credits and no usage.
 */
export async function checkAccess(db: Db, input: CheckAccessInput): Promise<AccessAnswer> {
  const now = input.now ?? new Date()
  const quantity = input.quantity ?? 1
  assertQuantity(quantity)
  const { timeZone, feature, customer, quotas } = await loadContext(db, {
    projectId: input.projectId,
    featureKey: input.feature,
    customer: { telegramUserId: input.telegramUserId },
    now,
  })
  const customerId = customer?.id ?? null
  let available = customer?.available ?? 0
  // Lots or holds expired since the last sweep: count them at their instant, not at the job's.
  if (customer?.nextExpiryAt && customer.nextExpiryAt <= now) {
    available = (
      await getBalance(db, {
        projectId: input.projectId,
        telegramUserId: input.telegramUserId,
        now,
      })
    ).available
  }
  const base = {
    feature: input.feature,
    quantity,
    available,
    costCredits: 0,
    freeQuantity: 0,
    quota: null,
    freeAllowance: null,
    entitlement: null,
  }
  if (!feature) return { ...base, allowed: false, reason: 'unknown_feature' }
  const [end, plan] = await Promise.all([
    feature.kind === 'gated' && customerId !== null
      ? accessEnd(db, input.projectId, customerId, feature.key, now)
      : Promise.resolve(null),
    evaluateQuotas(
      db,
      { projectId: input.projectId, featureKey: feature.key, customerId, timeZone, now },
      quotas,
      quantity,
    ),
  ])
  const costCredits = creditsFor(feature, plan.paidQuantity)
  const answer = {
    ...base,
    costCredits,
    freeQuantity: plan.freeQuantity,
    quota: quotaView(plan.binding),
    freeAllowance: quotaView(plan.allowance),
    entitlement: entitlementView(end),
  }
  const reason: AccessReason = customer?.blockedAt
    ? 'blocked'
    : feature.kind === 'gated' && end === null
      ? 'no_entitlement'
      : plan.exceeded
        ? 'quota_exceeded'
        : costCredits > available
          ? 'insufficient_credits'
          : 'ok'
  return { ...answer, allowed: reason === 'ok', reason }
}

async function evaluateQuotas(
  db: Executor,
  scope: {
    projectId: string
    featureKey: string
    customerId: number | null
    timeZone: string
    now: Date
    exceptReservation?: string | undefined
  },
  quotas: ApplicableRow[],
  quantity: number,
): Promise<QuotaPlan & { states: QuotaState[] }> {
  const states = await quotaStates(db, scope, quotas)
  return { ...planQuotas(states, quantity), states }
}

interface FeatureMutation {
  projectId: string
  idempotencyKey: string
  actor: string
  reason?: string | undefined
  metadata?: Record<string, unknown> | undefined
  now?: Date | undefined
}

export interface ConsumeFeatureInput extends FeatureMutation {
  telegramUserId: number
  feature: string
  quantity: number
  profile?: TelegramProfile | undefined
  /**
   * The metered act's usage record (issue 14). At consume and settle it is the actual usage and
   * its entry carries the cost (an entry of 0 credits when the free allowance covered it, so a
   * free answer's cost is on the ledger too); at reserve it is the expected usage, checked
   * against the cost caps before anything is held.
   */
  usage?: UsageRecord | undefined
}

export interface ConsumeFeatureResult {
  usageId: number
  feature: string
  quantity: number
  freeQuantity: number
  /** Credits charged (0 when the free allowance covered it all). */
  credits: number
  /** The ledger entry, or null when nothing was charged. */
  entryId: number | null
  available: number
  held: number
  debt: number
  /** After this consumption. */
  quota: QuotaView
  freeAllowance: QuotaView
}

/**
 * Uses `quantity` units of a feature: checks entitlement, quota and balance and records the usage
 * and the charge in one transaction under the customer's row lock, so two concurrent calls can
 * never both take a quota's last slot. The free allowance is used first, then credits at
 * `creditsFor`. Throws NotFound (feature), CustomerBlocked, NoEntitlement, QuotaExceeded or
 * InsufficientCredits; nothing is written then.
 */
export async function consumeFeature(
  db: Db,
  input: ConsumeFeatureInput,
): Promise<ConsumeFeatureResult> {
  const now = input.now ?? new Date()
  assertQuantity(input.quantity)
  if (input.usage) checkUsage(input.usage)
  const { now: _now, profile: _profile, idempotencyKey, ...request } = input
  const refusal: Refusal = {}
  try {
    return await act(
      db,
      { projectId: input.projectId, key: idempotencyKey, operation: 'consume_feature', request },
      (tx) => upsertAndLockCustomer(tx, input.projectId, input.telegramUserId, input.profile),
      async (tx, customer) => {
        const { feature, plan } = await admit(tx, customer, input, input.quantity, now, refusal)
        const credits = creditsFor(feature, plan.paidQuantity)
        let entry: Awaited<ReturnType<typeof appendEntry>> | null = null
        if (credits > 0 || input.usage) {
          if (customer.available < credits) throw insufficient(customer, credits, plan)
          const allocations = credits > 0 ? await takeFromLots(tx, customer, credits, now) : []
          entry = await appendEntry(tx, customer, {
            usage: input.usage,
            now,
            kind: 'consume',
            amount: -credits,
            lots: debit(allocations),
            reason: input.reason ?? `${feature.key} × ${input.quantity}`,
            actor: input.actor,
            idempotencyKey,
            metadata: {
              ...input.metadata,
              feature: feature.key,
              quantity: input.quantity,
              freeQuantity: plan.freeQuantity,
            },
          })
        }
        const usageId = await recordUsage(tx, customer, {
          featureKey: feature.key,
          quantity: input.quantity,
          freeQuantity: plan.freeQuantity,
          credits,
          ledgerEntryId: entry?.entryId ?? null,
          holdId: null,
          now,
        })
        const after = await noteExhaustion(tx, customer, feature.key, plan, input.quantity, true)
        return {
          usageId,
          feature: feature.key,
          quantity: input.quantity,
          freeQuantity: plan.freeQuantity,
          credits,
          entryId: entry?.entryId ?? null,
          available: customer.available,
          held: customer.held,
          debt: customer.debt,
          ...after,
        }
      },
    )
  } catch (error) {
    throw await reportRefusal(db, error, refusal, input.feature)
  }
}

/** Filled by `admit` when a cap refuses, for the event written after the rollback. */
interface Refusal {
  customer?: { projectId: string; id: number }
  state?: QuotaState
}

/**
 * The shared gate of consume and reserve, under the customer lock: the customer (created if new,
 * so a free allowance works before any purchase), not blocked, the feature live, the entitlement
 * in force for a gated feature, and every cap with room for `quantity`.
 */
async function admit(
  tx: Tx,
  customer: LockedCustomer,
  input: { projectId: string; telegramUserId: number; feature: string },
  quantity: number,
  now: Date,
  refusal: Refusal,
) {
  refusal.customer = { projectId: customer.projectId, id: customer.id }
  if (customer.blockedAt) throw new CustomerBlocked(input.telegramUserId)
  const { timeZone, feature, quotas, overagePolicy, marginFloorPercent } = await loadContext(tx, {
    projectId: input.projectId,
    featureKey: input.feature,
    customer: { id: customer.id },
    now,
  })
  if (!feature) throw new NotFound('Feature', input.feature)
  await sweepExpired(tx, customer, now)
  if (feature.kind === 'gated') {
    const end = await accessEnd(tx, input.projectId, customer.id, feature.key, now)
    if (end === null) throw new NoEntitlement(feature.key)
  }
  const plan = await evaluateQuotas(
    tx,
    { projectId: input.projectId, featureKey: feature.key, customerId: customer.id, timeZone, now },
    quotas,
    quantity,
  )
  if (plan.exceeded) {
    refusal.customer = { projectId: customer.projectId, id: customer.id }
    refusal.state = plan.exceeded
    const q = plan.exceeded
    throw new QuotaExceeded(feature.key, q.limit, q.used, quantity, q.resetsAt, q.period, q.window)
  }
  return { customer, feature, plan, timeZone, overagePolicy, marginFloorPercent }
}

function insufficient(customer: LockedCustomer, credits: number, plan: QuotaPlan) {
  return plan.allowance
    ? new InsufficientCreditsAfterAllowance(customer.available, credits, plan.allowance.resetsAt)
    : new InsufficientCredits(customer.available, credits)
}

/**
 * A refused request changes nothing, so its transaction rolled back; the "quota exhausted" event
 * it implies is written in a short transaction of its own (latched: once per window).
 */
async function reportRefusal(db: Db, error: unknown, refusal: Refusal, featureKey: string) {
  const { customer, state } = refusal
  if (error instanceof QuotaExceeded && customer && state) {
    try {
      await transact(db, (tx) => emitExhausted(tx, customer, featureKey, state))
    } catch {
      // The refusal stands even if its notification could not be written.
    }
  }
  if (error instanceof CostCapReached && customer) {
    try {
      await transact(db, (tx) => emitCostCapReached(tx, customer, error, featureKey))
    } catch {
      // As above: the refusal stands.
    }
  }
  return error
}

async function emitExhausted(
  tx: Tx,
  customer: { projectId: string; id: number },
  featureKey: string,
  q: QuotaState,
) {
  await emitLatched(tx, {
    projectId: customer.projectId,
    customerId: customer.id,
    condition: `quota:${q.id}`,
    windowKey: q.windowKey,
    type: q.free ? 'free_allowance.exhausted' : 'quota.exhausted',
    payload: {
      feature: featureKey,
      limit: q.limit,
      period: q.period,
      window: q.window,
      scope: q.scope,
      resetsAt: q.resetsAt,
    },
  })
}

/** Usage after a consumption, and one event for each quota this consumption filled. */
async function noteExhaustion(
  tx: Tx,
  customer: LockedCustomer,
  featureKey: string,
  plan: QuotaPlan & { states: QuotaState[] },
  quantity: number,
  admitted: boolean,
) {
  // A consumption admitted into a rolling window with room in it starts a new exhaustion episode.
  const rearm = admitted
    ? plan.states.filter((q) => q.window === 'rolling' && q.used < q.limit)
    : []
  if (rearm.length > 0) {
    await tx.execute(
      sql`delete from event_latches where project_id = ${customer.projectId}
          and customer_id = ${customer.id}::int8
          and condition in (${sql.join(
            rearm.map((q) => sql`${`quota:${q.id}`}`),
            sql`, `,
          )})`,
    )
  }
  const states = plan.states.map((q) => ({
    ...q,
    used: q.used + (q.free ? plan.freeQuantity : quantity),
  }))
  for (const [i, q] of states.entries()) {
    if (plan.states[i]!.used < q.limit && q.used >= q.limit) {
      await emitExhausted(tx, customer, featureKey, q)
    }
  }
  const after = planQuotas(states, 0)
  return { quota: quotaView(after.binding), freeAllowance: quotaView(after.allowance) }
}

async function recordUsage(
  tx: Tx,
  customer: LockedCustomer,
  usage: {
    featureKey: string
    quantity: number
    freeQuantity: number
    credits: number
    ledgerEntryId: number | null
    holdId: string | null
    now: Date
  },
): Promise<number> {
  const [row] = await tx
    .insert(usageEvents)
    .values({
      projectId: customer.projectId,
      customerId: customer.id,
      featureKey: usage.featureKey,
      quantity: usage.quantity,
      freeQuantity: usage.freeQuantity,
      credits: usage.credits,
      ledgerEntryId: usage.ledgerEntryId,
      holdId: usage.holdId,
      occurredAt: usage.now,
    })
    .returning({ id: usageEvents.id })
  return row!.id
}

export interface ReserveFeatureInput extends ConsumeFeatureInput {
  /** How long the reservation (and its credit hold) lives before it lapses on its own. */
  ttlSeconds?: number | undefined
  /**
   * The smallest reservation worth making (an AI call's prompt plus a short answer). Under the
   * project's `cap` overage policy a `quantity` the customer cannot pay shrinks to what they
   * can, down to this; without it the reserve is all or nothing, as before.
   */
  minQuantity?: number | undefined
  /**
   * A feature with a margin floor, given the expected `usage` (its `outputTokens` the answer's
   * cap): `cap` (default) returns the largest `maxOutputTokens` that keeps the floor, `refuse`
   * throws MARGIN_FLOOR_BREACHED when the requested output does not fit.
   */
  marginFloor?: 'cap' | 'refuse' | undefined
}

export interface ReserveFeatureResult {
  reservationId: string
  feature: string
  /** The estimate reserved, in units (less than asked when the `cap` policy shrank it). */
  quantity: number
  /** The estimate asked for. */
  requestedQuantity: number
  freeQuantity: number
  /** Credits held for the paid part of the estimate. */
  credits: number
  /** The project's overage policy at reserve. */
  overagePolicy: OveragePolicy
  /**
   * Under `cap`: the most units the work may use, so it cannot cost more than the hold (the bot
   * turns it into the model's `max_tokens`). Null under `debt` and `absorb`.
   */
  maxQuantity: number | null
  /**
   * The feature's margin floor, when it binds: the most output tokens the model may produce so
   * the expected cost keeps the floor (pass it on as `max_tokens`). Null when no floor applies.
   */
  maxOutputTokens: number | null
  expiresAt: string
  available: number
  held: number
  debt: number
  quota: QuotaView
  freeAllowance: QuotaView
}

/**
 * Reserves an estimate of units before costly work (an AI call): the same gate as
 * `consumeFeature`, then the units count against every quota while the reservation is active
 * (so two concurrent reserves cannot both take the last slot) and the paid part is held in
 * credits. Settle with the actual units, or release.
 */
export async function reserveFeature(
  db: Db,
  input: ReserveFeatureInput,
): Promise<ReserveFeatureResult> {
  const now = input.now ?? new Date()
  assertQuantity(input.quantity)
  if (input.minQuantity !== undefined) {
    assertQuantity(input.minQuantity, 'minQuantity')
    if (input.minQuantity > input.quantity) {
      throw new InvalidInput('minQuantity', 'must not exceed quantity')
    }
  }
  if (input.usage) checkUsage(input.usage)
  const ttl = input.ttlSeconds ?? DEFAULT_HOLD_TTL_SECONDS
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_HOLD_TTL_SECONDS) {
    throw new InvalidInput(
      'ttlSeconds',
      `must be a whole number of seconds from 1 to ${MAX_HOLD_TTL_SECONDS}`,
    )
  }
  const { now: _now, profile: _profile, idempotencyKey, ...request } = input
  const refusal: Refusal = {}
  try {
    return await act(
      db,
      { projectId: input.projectId, key: idempotencyKey, operation: 'reserve_feature', request },
      (tx) => upsertAndLockCustomer(tx, input.projectId, input.telegramUserId, input.profile),
      async (tx, customer) => {
        const admitted = await admit(tx, customer, input, input.quantity, now, refusal)
        const { feature, overagePolicy, marginFloorPercent } = admitted
        // The expected cost must fit the cost caps now, under the lock, before anything is held.
        if (input.usage) {
          const expected = await costOfAct(tx, customer, input.usage)
          await checkCostCap(tx, customer, expected.costMicros ?? 0, now)
        }
        let { plan } = admitted
        let quantity = input.quantity
        let credits = creditsFor(feature, plan.paidQuantity)
        if (overagePolicy === 'cap' && credits > customer.available) {
          const capped = cappedQuantity(
            feature,
            { quantity, minQuantity: input.minQuantity ?? quantity },
            plan.freeQuantity,
            customer.available,
          )
          if (capped === null) throw insufficient(customer, credits, plan)
          quantity = capped
          plan = { ...planQuotas(plan.states, quantity), states: plan.states }
          credits = creditsFor(feature, plan.paidQuantity)
        }
        const expiresAt = new Date(now.getTime() + ttl * 1000)
        let holdId: string | null = null
        let maxOutputTokens: number | null = null
        if (credits > 0) {
          if (customer.available < credits) throw insufficient(customer, credits, plan)
          const allocations = await takeFromLots(tx, customer, credits, now)
          // The free allowance's cost is the operator's choice; the floor guards what is paid for.
          const price =
            marginFloorPercent !== null && input.usage
              ? await priceFor(tx, input.projectId, input.usage.provider, input.usage.model)
              : null
          if (price && input.usage && marginFloorPercent !== null) {
            maxOutputTokens = checkMarginFloor({
              feature: feature.key,
              floorPercent: marginFloorPercent,
              heldValueMicros: await valueOfAllocations(tx, customer, allocations),
              price,
              inputTokens: input.usage.inputTokens,
              cachedInputTokens: input.usage.cachedInputTokens ?? 0,
              requestedMaxTokens: input.usage.outputTokens,
              mode: input.marginFloor ?? 'cap',
            }).maxTokens
          }
          const [hold] = await tx
            .insert(holds)
            .values({
              projectId: input.projectId,
              customerId: customer.id,
              amount: credits,
              allocations,
              reason: input.reason ?? `${feature.key} × ${quantity} (estimate)`,
              expiresAt,
            })
            .returning({ id: holds.id })
          holdId = hold!.id
          await appendEntry(tx, customer, {
            kind: 'hold',
            amount: -credits,
            heldChange: credits,
            lots: debit(allocations),
            holdId,
            reason: input.reason ?? `${feature.key} × ${quantity} (estimate)`,
            actor: input.actor,
            idempotencyKey,
            metadata: {
              ...input.metadata,
              feature: feature.key,
              quantity,
              ...(quantity < input.quantity ? { requestedQuantity: input.quantity } : {}),
              freeQuantity: plan.freeQuantity,
            },
            nextExpiryAt:
              !customer.nextExpiryAt || expiresAt < customer.nextExpiryAt ? expiresAt : undefined,
          })
        }
        const [reservation] = await rows<{ id: string }>(
          tx,
          sql`insert into usage_reservations (project_id, customer_id, feature_key, quantity,
                  free_quantity, hold_id, expires_at, created_at)
                values (${input.projectId}, ${customer.id}::int8, ${feature.key}, ${quantity}::int8,
                  ${plan.freeQuantity}::int8, ${holdId}::uuid, ${expiresAt.toISOString()}::timestamptz,
                  ${now.toISOString()}::timestamptz)
                returning id`,
        )
        const after = await noteExhaustion(tx, customer, feature.key, plan, quantity, true)
        return {
          reservationId: reservation!.id,
          feature: feature.key,
          quantity,
          requestedQuantity: input.quantity,
          freeQuantity: plan.freeQuantity,
          credits,
          overagePolicy,
          maxQuantity: overagePolicy === 'cap' ? quantity : null,
          maxOutputTokens,
          expiresAt: expiresAt.toISOString(),
          available: customer.available,
          held: customer.held,
          debt: customer.debt,
          ...after,
        }
      },
    )
  } catch (error) {
    throw await reportRefusal(db, error, refusal, input.feature)
  }
}

export interface SettleFeatureInput extends FeatureMutation {
  reservationId: string
  /** The actual units used; 0 is allowed (nothing was done). */
  quantity: number
  /** The actual usage record (issue 14): the settle's entry carries its cost. */
  usage?: UsageRecord | undefined
}

export interface SettleFeatureResult {
  reservationId: string
  usageId: number
  feature: string
  /** Actual units recorded against the quotas. */
  quantity: number
  freeQuantity: number
  /** Credits the reservation held. */
  reserved: number
  /** Credits charged for the actual units. */
  charged: number
  returned: number
  /** Credits that repaid an outstanding debt instead of going back to their lots. */
  repaid: number
  /** Credits the actual cost exceeded the hold by and the balance could not pay. */
  shortfall: number
  /** What became of the shortfall under the project's overage policy (its ledger entry), or null without one. */
  overage: OverageOutcome | null
  /** The settle entry, else the shortfall entry; null only when nothing was charged and nothing went unpaid. */
  entryId: number | null
  available: number
  held: number
  debt: number
  quota: QuotaView
  freeAllowance: QuotaView
}

/**
 * Closes a reservation at the actual units. The free allowance (as it stands without this
 * reservation) covers what it can; the rest costs `creditsFor` credits, taken from the hold — the
 * unused part goes back to its lots, an overage is charged only if the balance can pay all of it
 * (else `shortfall`, as `settle`). The quotas count the actual units, even above the estimate:
 * the work is done, so the next request is the one refused.
 */
export async function settleFeature(
  db: Db,
  input: SettleFeatureInput,
): Promise<SettleFeatureResult> {
  const now = input.now ?? new Date()
  assertQuantity(input.quantity, 'quantity', 0)
  if (input.usage) checkUsage(input.usage)
  const { now: _now, idempotencyKey, ...request } = input
  return act(
    db,
    { projectId: input.projectId, key: idempotencyKey, operation: 'settle_feature', request },
    (tx) => lockReservationOwner(tx, input),
    async (tx, customer) => {
      const reservation = await activeReservation(tx, customer, input.reservationId, now)
      const { timeZone, feature, quotas, overagePolicy } = await loadContext(tx, {
        projectId: input.projectId,
        featureKey: reservation.featureKey,
        customer: { id: customer.id },
        now,
        includeArchived: true,
      })
      // Archived since the reservation is fine (the work is done); a feature is never deleted.
      if (!feature) throw new NotFound('Feature', reservation.featureKey)
      const plan = await evaluateQuotas(
        tx,
        {
          projectId: input.projectId,
          featureKey: reservation.featureKey,
          customerId: customer.id,
          timeZone,
          now,
          exceptReservation: input.reservationId,
        },
        quotas,
        input.quantity,
      )
      const cost = creditsFor(feature, plan.paidQuantity)
      const reason = input.reason ?? `${reservation.featureKey} × ${input.quantity}`
      const metadata = {
        ...input.metadata,
        feature: reservation.featureKey,
        quantity: input.quantity,
        freeQuantity: plan.freeQuantity,
        reservationId: input.reservationId,
      }
      const facts = { reason, actor: input.actor, idempotencyKey, metadata, usage: input.usage }
      const money = reservation.holdId
        ? await settleCreditHold(tx, customer, reservation.holdId, cost, now, facts)
        : await chargeWithoutHold(tx, customer, cost, now, facts)
      // The work is done: what it cost beyond what was paid is written down, never dropped.
      const overage =
        money.shortfall > 0
          ? await recordShortfall(
              tx,
              customer,
              {
                policy: overagePolicy,
                units: Math.max(0, plan.paidQuantity - unitsFor(feature, money.charged)),
                credits: money.shortfall,
                now,
              },
              // The usage's cost goes on one entry: the settle's or charge's when there is one.
              money.entryId === null ? facts : { ...facts, usage: undefined },
            )
          : null
      if (overage) {
        money.charged += overage.paid
        money.shortfall -= overage.paid
        money.entryId ??= overage.entryId
      }
      await closeReservation(tx, input.projectId, input.reservationId, 'settled', now)
      const usageId = await recordUsage(tx, customer, {
        featureKey: reservation.featureKey,
        quantity: input.quantity,
        freeQuantity: plan.freeQuantity,
        credits: money.charged,
        ledgerEntryId: money.entryId,
        holdId: reservation.holdId,
        now,
      })
      const after = await noteExhaustion(
        tx,
        customer,
        reservation.featureKey,
        plan,
        input.quantity,
        false,
      )
      return {
        reservationId: input.reservationId,
        usageId,
        feature: reservation.featureKey,
        quantity: input.quantity,
        freeQuantity: plan.freeQuantity,
        ...money,
        overage,
        available: customer.available,
        held: customer.held,
        debt: customer.debt,
        ...after,
      }
    },
  )
}

export interface ReleaseFeatureInput extends FeatureMutation {
  reservationId: string
}

export interface ReleaseFeatureResult {
  reservationId: string
  returned: number
  /** Credits that repaid an outstanding debt instead of going back to their lots. */
  repaid: number
  entryId: number | null
  available: number
  held: number
  debt: number
}

/** Cancels a reservation: its units stop counting and its held credits go back to their lots. */
export async function releaseFeature(
  db: Db,
  input: ReleaseFeatureInput,
): Promise<ReleaseFeatureResult> {
  const now = input.now ?? new Date()
  const { now: _now, idempotencyKey, ...request } = input
  return act(
    db,
    { projectId: input.projectId, key: idempotencyKey, operation: 'release_feature', request },
    (tx) => lockReservationOwner(tx, input),
    async (tx, customer) => {
      const reservation = await activeReservation(tx, customer, input.reservationId, now)
      let returned = 0
      let repaid = 0
      let entryId: number | null = null
      if (reservation.holdId) {
        const hold = await activeHold(tx, customer, reservation.holdId)
        const released = await releaseHeldCredits(
          tx,
          customer,
          hold,
          { kind: 'release', now },
          {
            reason: input.reason ?? hold.reason,
            actor: input.actor,
            idempotencyKey,
            metadata: { ...input.metadata, reservationId: input.reservationId },
          },
        )
        returned = released.returned
        repaid = released.repaid
        entryId = released.after.entryId
      }
      await closeReservation(tx, input.projectId, input.reservationId, 'released', now)
      return {
        reservationId: input.reservationId,
        returned,
        repaid,
        entryId,
        available: customer.available,
        held: customer.held,
        debt: customer.debt,
      }
    },
  )
}

/** The lock step of settling or releasing a reservation: its customer. */
async function lockReservationOwner(
  tx: Tx,
  input: { projectId: string; reservationId: string },
): Promise<LockedCustomer> {
  const [owner] = await rows<{ customer_id: string }>(
    tx,
    sql`select customer_id from usage_reservations
        where project_id = ${input.projectId} and id = ${input.reservationId}::uuid`,
  )
  if (!owner) throw new NotFound('Reservation', input.reservationId)
  return lockCustomerById(tx, input.projectId, Number(owner.customer_id))
}

/** The reservation as it is now, under its customer's lock (after the expiry sweep). */
async function activeReservation(
  tx: Tx,
  customer: LockedCustomer,
  reservationId: string,
  now: Date,
) {
  await sweepExpired(tx, customer, now)
  const [row] = await rows<{
    feature_key: string
    quantity: string
    hold_id: string | null
    status: string
    expires_at: string | Date
  }>(
    tx,
    sql`select feature_key, quantity, hold_id, status, expires_at from usage_reservations
        where project_id = ${customer.projectId} and id = ${reservationId}::uuid`,
  )
  const status =
    row!.status === 'active' && new Date(row!.expires_at) <= now ? 'expired' : row!.status
  if (status !== 'active') throw new HoldNotActive(reservationId, status)
  return { featureKey: row!.feature_key, quantity: Number(row!.quantity), holdId: row!.hold_id }
}

async function closeReservation(
  tx: Tx,
  projectId: string,
  reservationId: string,
  status: 'settled' | 'released',
  now: Date,
) {
  await tx.execute(
    sql`update usage_reservations set status = ${status}, closed_at = ${now.toISOString()}::timestamptz
        where project_id = ${projectId} and id = ${reservationId}::uuid`,
  )
}

/** The money side of settling a reservation with a credit hold: the rules of `settle`. */
async function settleCreditHold(
  tx: Tx,
  customer: LockedCustomer,
  holdId: string,
  cost: number,
  now: Date,
  facts: EntryFacts,
) {
  const hold = await activeHold(tx, customer, holdId)
  const { after, ...settled } = await settleHeldCredits(tx, customer, hold, cost, now, facts)
  return { ...settled, entryId: after.entryId as number | null }
}

/** The money side of settling a reservation the free allowance covered: charge any overage if it can be paid in full. */
async function chargeWithoutHold(
  tx: Tx,
  customer: LockedCustomer,
  cost: number,
  now: Date,
  facts: EntryFacts,
) {
  if ((cost === 0 && !facts.usage) || customer.available < cost) {
    return {
      reserved: 0,
      charged: 0,
      returned: 0,
      repaid: 0,
      shortfall: cost,
      entryId: null as number | null,
    }
  }
  const allocations = cost > 0 ? await takeFromLots(tx, customer, cost, now) : []
  const after = await appendEntry(tx, customer, {
    kind: 'consume',
    amount: -cost,
    lots: debit(allocations),
    usage: facts.usage,
    now,
    reason: facts.reason,
    actor: facts.actor,
    idempotencyKey: facts.idempotencyKey,
    metadata: facts.metadata,
  })
  return {
    reserved: 0,
    charged: cost,
    returned: 0,
    repaid: 0,
    shortfall: 0,
    entryId: after.entryId as number | null,
  }
}
