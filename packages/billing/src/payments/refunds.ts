import {
  type Db,
  type Executor,
  grants,
  payments,
  projects,
  rows,
  subscriptions,
  type Tx,
} from '@e-stars/db'
import {
  allStarTransactions,
  type BotApi,
  isChargeAlreadyRefunded,
  isTelegramError,
  isTransient,
  starTransactionKind,
} from '@e-stars/telegram'
import { and, eq, inArray, isNull, sql } from 'drizzle-orm'
import { InvalidInput, NotFound, TelegramCallFailed } from '../errors.ts'
import {
  type LockedCustomer,
  lockCustomerById,
  upsertAndLockCustomer,
} from '../ledger/customers.ts'
import { appendEntry, type LotChange } from '../ledger/entries.ts'
import { sweepExpired } from '../ledger/expiry.ts'
import { balanceOf } from '../ledger/grant.ts'
import { parseAllocations } from '../ledger/held.ts'
import { allocate, debit, liveLots, total } from '../ledger/lots.ts'
import { transact } from '../ledger/transaction.ts'
import { revokeEntitlementsOfPayment } from '../usage/entitlements.ts'
import { type PayerInput, type PaymentChannel, profileOf } from './payments.ts'
import { applyRenewalState, emitEvent } from './subscriptions.ts'

export type RefundPolicy = 'debt' | 'absorb'

export interface RefundOutcome {
  paymentId: number
  telegramPaymentChargeId: string
  telegramUserId: number
  /** True when the payment was refunded before: nothing was revoked this time. */
  alreadyRefunded: boolean
  policy: RefundPolicy
  /** Unspent credits of the payment's lot(s), voided. */
  voided: number
  /** Credits of the payment already spent when it was refunded. */
  spent: number
  /** `debt` policy: spent credits taken back from the customer's other lots at once. */
  repaidFromOtherLots: number
  /** `debt` policy: what could not be taken back, now owed (repaid first from future grants). */
  debtAdded: number
  /** `absorb` policy: spent credits the operator absorbs. */
  absorbed: number
  entitlementsRevoked: number
  refundedBy: string
  refundReason: string
  refundedAt: string
  available: number
  held: number
  debt: number
}

interface PaymentForRefund {
  id: string
  customer_id: string
  telegram_user_id: string
  telegram_payment_charge_id: string
  status: string
  subscription_id: string | null
  subscription_expires_at: string | Date | null
  refunded_at: string | Date | null
  refunded_by: string | null
  refund_reason: string | null
  refund_policy: RefundPolicy | null
}

export interface RefundActor {
  /** Who refunded: `operator:<id>`, `api-key:<id>`, `telegram`, `reconciliation`. */
  by: string
  reason: string
}

/**
 * Revokes what a payment bought, once: voids the unspent part of its lot(s), ends its
 * entitlements, and settles the spent part by the project's refund policy. A payment already
 * refunded is left alone and its first refund's outcome is returned.
 */
export async function revokePayment(
  tx: Tx,
  input: { projectId: string; telegramPaymentChargeId: string; now: Date } & RefundActor,
): Promise<RefundOutcome> {
  const { customer, payment } = await lockPaymentForRefund(tx, input)
  if (payment.status === 'refunded') return replayRefund(tx, customer, payment)
  // A refund an operator asked for and Telegram made is theirs, whoever reports it first.
  const actor: RefundActor =
    payment.refunded_at === null && payment.refunded_by
      ? { by: payment.refunded_by, reason: payment.refund_reason ?? input.reason }
      : { by: input.by, reason: input.reason }
  return revokeLocked(tx, customer, payment, { ...input, ...actor })
}

/** The lock step of a refund, in the one order: the payment's customer, then the payment. */
async function lockPaymentForRefund(
  tx: Tx,
  input: { projectId: string; telegramPaymentChargeId: string },
) {
  const [found] = await rows<{ id: string; customer_id: string }>(
    tx,
    sql`select id, customer_id from payments
        where project_id = ${input.projectId} and telegram_payment_charge_id = ${input.telegramPaymentChargeId}`,
  )
  if (!found) throw new NotFound('Payment', input.telegramPaymentChargeId)
  const customer = await lockCustomerById(tx, input.projectId, Number(found.customer_id))
  const [payment] = await rows<PaymentForRefund>(
    tx,
    sql`select id, customer_id, telegram_user_id, telegram_payment_charge_id, status, subscription_id,
          subscription_expires_at, refunded_at, refunded_by, refund_reason, refund_policy
        from payments where project_id = ${input.projectId} and id = ${found.id} for update`,
  )
  return { customer, payment: payment! }
}

/** Voids what the locked, not yet refunded payment bought and settles the spent part by policy. */
async function revokeLocked(
  tx: Tx,
  customer: LockedCustomer,
  payment: PaymentForRefund,
  input: { projectId: string; now: Date } & RefundActor,
): Promise<RefundOutcome> {
  await sweepExpired(tx, customer, input.now)
  const paymentId = Number(payment.id)
  const policy = await refundPolicyOf(tx, input.projectId)
  const bought = await voidBoughtCredits(tx, customer, paymentId, input.now)
  const takenBack =
    policy === 'debt' && bought.spent > 0
      ? await takeSpentBack(tx, customer, paymentId, bought.spent, input.now)
      : { changes: [], repaidFromOtherLots: 0, debtAdded: 0 }
  const absorbed = policy === 'absorb' ? bought.spent : 0
  const facts = {
    voided: bought.voided,
    heldVoided: bought.heldVoided,
    spent: bought.spent,
    repaidFromOtherLots: takenBack.repaidFromOtherLots,
    debtAdded: takenBack.debtAdded,
    absorbed,
  }
  let after = balanceOf(customer)
  // The refund reverses all the revenue its lots earned: the entry moves their unspent value out
  // of them and takes back their whole value, so the refunded lots net to zero revenue.
  const reversed = bought.valueMicros
  if (
    facts.voided + facts.repaidFromOtherLots + facts.debtAdded + facts.heldVoided > 0 ||
    reversed > 0
  ) {
    after = balanceOf(
      await appendEntry(tx, customer, {
        kind: 'revoke',
        amount: -(facts.voided + facts.repaidFromOtherLots),
        heldChange: -facts.heldVoided,
        debtChange: facts.debtAdded,
        lots: [...bought.changes, ...takenBack.changes],
        revenueAdjustMicros: bought.deferredMicros - reversed,
        grantId: bought.lotIds.length === 1 ? bought.lotIds[0]! : null,
        reason: `Refund: ${input.reason}`,
        actor: input.by,
        metadata: {
          paymentId,
          telegramPaymentChargeId: payment.telegram_payment_charge_id,
          policy,
          ...facts,
        },
      }),
    )
  }
  const entitlementsRevoked = await revokeEntitlementsOfPayment(tx, {
    projectId: input.projectId,
    paymentId,
    reason: `Refund: ${input.reason}`,
    by: input.by,
    now: input.now,
  })
  await markRefunded(tx, payment, { ...input, spent: bought.spent, policy })
  // The outbox (signed webhooks), in the refund's transaction: once, a replayed refund adds none.
  await emitEvent(tx, {
    projectId: input.projectId,
    customerId: customer.id,
    type: 'payment.refunded',
    payload: {
      paymentId,
      telegramPaymentChargeId: payment.telegram_payment_charge_id,
      telegramUserId: Number(payment.telegram_user_id),
      refundedBy: input.by,
      reason: input.reason,
      policy,
      ...facts,
    },
  })
  return {
    paymentId,
    telegramPaymentChargeId: payment.telegram_payment_charge_id,
    telegramUserId: Number(payment.telegram_user_id),
    alreadyRefunded: false,
    policy,
    ...facts,
    entitlementsRevoked,
    refundedBy: input.by,
    refundReason: input.reason,
    refundedAt: input.now.toISOString(),
    ...after,
  }
}

async function refundPolicyOf(tx: Tx, projectId: string): Promise<RefundPolicy> {
  const [project] = await tx
    .select({ refundPolicy: projects.refundPolicy })
    .from(projects)
    .where(eq(projects.id, projectId))
  return project!.refundPolicy as RefundPolicy
}

/**
 * The payment's lots are closed: their unspent credits are voided, credits of theirs sitting in
 * open holds are voided with them (not spent yet), and the rest is what was spent.
 */
async function voidBoughtCredits(tx: Tx, customer: LockedCustomer, paymentId: number, now: Date) {
  const lots = await rows<{
    id: string
    amount: string
    remaining: string
    expired: string
    value_micros: string
  }>(
    tx,
    sql`select g.id, g.amount, g.remaining, g.value_micros,
          coalesce((select -sum(e.amount) from ledger_entries e where e.project_id = g.project_id
            and e.customer_id = g.customer_id and e.kind = 'expire' and e.grant_id = g.id), 0) as expired
        from grants g where g.project_id = ${customer.projectId} and g.customer_id = ${customer.id}
          and g.payment_id = ${paymentId} order by g.id`,
  )
  const lotIds = lots.map((l) => Number(l.id))
  const { byLot: heldByLot, deferredMicros } = await voidHeldCredits(
    tx,
    customer,
    new Set(lotIds),
    now,
  )
  const changes: LotChange[] = []
  let voided = 0
  let spent = 0
  for (const lot of lots) {
    const remaining = Number(lot.remaining)
    voided += remaining
    spent +=
      Number(lot.amount) - remaining - Number(lot.expired) - (heldByLot.get(Number(lot.id)) ?? 0)
    if (remaining > 0) changes.push({ lotId: Number(lot.id), amount: -remaining })
  }
  if (lotIds.length > 0)
    await tx
      .update(grants)
      .set({ closedAt: now })
      .where(
        and(
          eq(grants.projectId, customer.projectId),
          inArray(grants.id, lotIds),
          sql`${grants.closedAt} is null`,
        ),
      )
  const heldVoided = [...heldByLot.values()].reduce((sum, n) => sum + n, 0)
  const valueMicros = lots.reduce((sum, l) => sum + Number(l.value_micros), 0)
  return { lotIds, changes, voided, spent, heldVoided, valueMicros, deferredMicros }
}

/**
 * `debt` policy: the spent credits are taken back from the customer's other live lots now, in
 * burn order (the one allocation), so available and debt are never both above zero; what they
 * cannot cover is owed.
 */
async function takeSpentBack(
  tx: Tx,
  customer: LockedCustomer,
  paymentId: number,
  spent: number,
  now: Date,
) {
  const others = await liveLots(
    tx,
    customer,
    now,
    sql`and (payment_id is distinct from ${paymentId})`,
  )
  const taken = allocate(others, spent)
  const repaidFromOtherLots = total(taken)
  return { changes: debit(taken), repaidFromOtherLots, debtAdded: spent - repaidFromOtherLots }
}

async function markRefunded(
  tx: Tx,
  payment: PaymentForRefund,
  input: { projectId: string; now: Date; spent: number; policy: RefundPolicy } & RefundActor,
) {
  await tx
    .update(payments)
    .set({
      status: 'refunded',
      refundedAt: input.now,
      refundedBy: input.by,
      refundReason: input.reason,
      refundShortfall: input.spent,
      refundPolicy: input.policy,
    })
    .where(and(eq(payments.projectId, input.projectId), eq(payments.id, Number(payment.id))))
  if (payment.subscription_id && payment.subscription_expires_at) {
    // Refunding the period in force ends the subscription's access with it.
    await tx
      .update(subscriptions)
      .set({ status: 'refunded' })
      .where(
        and(
          eq(subscriptions.projectId, input.projectId),
          eq(subscriptions.id, payment.subscription_id),
          sql`${subscriptions.currentPeriodEnd} <= ${new Date(payment.subscription_expires_at).toISOString()}::timestamptz`,
        ),
      )
  }
}

async function replayRefund(
  tx: Tx,
  customer: LockedCustomer,
  payment: PaymentForRefund,
): Promise<RefundOutcome> {
  const [entry] = await rows<{ metadata: Record<string, number> | string | null }>(
    tx,
    sql`select metadata from ledger_entries where project_id = ${customer.projectId}
          and customer_id = ${customer.id} and kind = 'revoke'
          and metadata->>'paymentId' = ${String(payment.id)} order by id limit 1`,
  )
  const raw = entry?.metadata
  const facts = (typeof raw === 'string' ? JSON.parse(raw) : (raw ?? {})) as Record<string, number>
  const [revoked] = await rows<{ n: string }>(
    tx,
    sql`select count(*) as n from entitlements where project_id = ${customer.projectId}
          and payment_id = ${payment.id} and revoked_at is not null`,
  )
  return {
    paymentId: Number(payment.id),
    telegramPaymentChargeId: payment.telegram_payment_charge_id,
    telegramUserId: Number(payment.telegram_user_id),
    alreadyRefunded: true,
    policy: payment.refund_policy ?? 'debt',
    voided: facts.voided ?? 0,
    spent: facts.spent ?? 0,
    repaidFromOtherLots: facts.repaidFromOtherLots ?? 0,
    debtAdded: facts.debtAdded ?? 0,
    absorbed: facts.absorbed ?? 0,
    entitlementsRevoked: Number(revoked?.n ?? 0),
    refundedBy: payment.refunded_by ?? 'unknown',
    refundReason: payment.refund_reason ?? '',
    refundedAt: new Date(payment.refunded_at ?? 0).toISOString(),
    ...balanceOf(customer),
  }
}

export interface RefundPaymentInput extends RefundActor {
  projectId: string
  telegramPaymentChargeId: string
  /** With `editUserStarSubscription`, refunding a subscription's current period also stops renewal. */
  /** With `getStarTransactions`, a CHARGE_ALREADY_REFUNDED answer is checked against the ledger. */
  botApi: Pick<BotApi, 'refundStarPayment'> &
    Partial<Pick<BotApi, 'editUserStarSubscription' | 'getStarTransactions'>>
  now?: Date | undefined
  /** Runs inside the revocation's transaction (the console's audit row). */
  onRevoked?: ((tx: Tx, outcome: RefundOutcome) => Promise<void>) | undefined
}

/**
 * An operator's refund, in three steps so that no transaction is open while Telegram answers:
 *
 *  1. record the request on the locked payment (who and why), or answer a refund already made;
 *  2. `refundStarPayment` through the project's bot (CHARGE_ALREADY_REFUNDED counts as done);
 *     a refusal withdraws the request and changes nothing;
 *  3. revoke, once: the `refunded_payment` update Telegram sends back may get there first, and
 *     finds the request, so the refund is the operator's either way.
 *
 * A crash between 2 and 3 leaves the request on the payment; the update or reconciliation
 * revokes it with the operator's name and reason.
 */
export async function refundPayment(db: Db, input: RefundPaymentInput): Promise<RefundOutcome> {
  if (!input.reason.trim()) throw new InvalidInput('reason', 'say why the payment is refunded')
  const now = input.now ?? new Date()
  const request = await transact(db, async (tx) => {
    const { customer, payment } = await lockPaymentForRefund(tx, input)
    if (payment.status === 'refunded')
      return { done: await replayRefund(tx, customer, payment), payment }
    await tx
      .update(payments)
      .set({ refundedBy: input.by, refundReason: input.reason })
      .where(and(eq(payments.projectId, input.projectId), eq(payments.id, Number(payment.id))))
    return { done: null, payment }
  })
  if (request.done) return request.done
  const { payment } = request
  try {
    await input.botApi.refundStarPayment({
      user_id: Number(payment.telegram_user_id),
      telegram_payment_charge_id: input.telegramPaymentChargeId,
    })
  } catch (error) {
    if (!isChargeAlreadyRefunded(error)) {
      await withdrawRefundRequest(db, input.projectId, Number(payment.id))
      throw telegramFailure('refundStarPayment', error)
    }
    // Telegram answers CHARGE_ALREADY_REFUNDED on some charges it did not refund, and on some it
    // did (tdlib/telegram-bot-api#690): done only once its ledger lists the refund. Otherwise the
    // request stays on the payment, and the refunded_payment update or reconciliation revokes it
    // with this operator's name when Telegram confirms.
    if (
      input.botApi.getStarTransactions &&
      !(await refundListed(input.botApi.getStarTransactions, input.telegramPaymentChargeId))
    )
      throw telegramFailure('refundStarPayment', error)
  }
  const outcome = await transact(db, async (tx) => {
    const revoked = await revokePayment(tx, { ...input, now })
    await input.onRevoked?.(tx, revoked)
    return revoked
  })
  if (payment.subscription_id && payment.subscription_expires_at)
    await stopRenewal(db, input, {
      subscriptionId: payment.subscription_id,
      periodEnd: new Date(payment.subscription_expires_at),
      telegramUserId: Number(payment.telegram_user_id),
    })
  // This call made the refund at Telegram, even when its refunded_payment update revoked it a
  // moment earlier (with this operator's name and reason): the ledger has one revocation either way.
  return { ...outcome, alreadyRefunded: false }
}

/** Whether Telegram's ledger lists a refund of the charge (the same id, the user as receiver). */
async function refundListed(getStarTransactions: BotApi['getStarTransactions'], chargeId: string) {
  for await (const row of allStarTransactions({ getStarTransactions }))
    if (row.id === chargeId && starTransactionKind(row) === 'refund') return true
  return false
}

/** Telegram refused: the payment is as it was (a refund made meanwhile by another door stays). */
async function withdrawRefundRequest(db: Db, projectId: string, paymentId: number) {
  await db
    .update(payments)
    .set({ refundedBy: null, refundReason: null })
    .where(
      and(
        eq(payments.projectId, projectId),
        eq(payments.id, paymentId),
        sql`${payments.status} <> 'refunded'`,
      ),
    )
}

/**
 * Refunding the period in force of a subscription also stops its renewal, or Telegram would
 * charge the user again next month. Best effort: the refund itself already happened.
 */
async function stopRenewal(
  db: Executor,
  input: RefundPaymentInput,
  payment: { subscriptionId: string; periodEnd: Date; telegramUserId: number },
) {
  if (!input.botApi.editUserStarSubscription) return
  const [subscription] = await db
    .select({ firstChargeId: subscriptions.firstChargeId })
    .from(subscriptions)
    .where(
      and(
        eq(subscriptions.projectId, input.projectId),
        eq(subscriptions.id, payment.subscriptionId),
        // 'refunded': this refund ended the period in force a moment ago, renewal still runs.
        inArray(subscriptions.status, ['active', 'refunded']),
        isNull(subscriptions.canceledAt),
        sql`${subscriptions.currentPeriodEnd} <= ${payment.periodEnd.toISOString()}::timestamptz`,
      ),
    )
  if (!subscription) return
  try {
    await input.botApi.editUserStarSubscription({
      user_id: payment.telegramUserId,
      telegram_payment_charge_id: subscription.firstChargeId,
      is_canceled: true,
    })
    // Recorded as a renewal-state change (history and event), as a user's cancel would be.
    await transact(db, (tx) =>
      applyRenewalState(tx, {
        projectId: input.projectId,
        subscriptionId: payment.subscriptionId,
        state: 'canceled',
        source: 'refund',
        details: { refundedBy: input.by },
        now: input.now ?? new Date(),
      }),
    )
  } catch {
    // Renewal keeps running at Telegram; the next renewal's payment will show up and can be refunded.
  }
}

export function telegramFailure(method: string, error: unknown): Error {
  if (!isTelegramError(error)) return error instanceof Error ? error : new Error(String(error))
  const description = 'description' in error ? String(error.description) : error.message
  return new TelegramCallFailed(method, description, isTransient(error))
}

/** Telegram's `refunded_payment` (Bot API names). */
export interface RefundedPaymentInput {
  currency: string
  total_amount: number
  invoice_payload: string
  telegram_payment_charge_id: string
  provider_payment_charge_id?: string | undefined
}

/**
 * Ingests a refund Telegram reports (a `refunded_payment` update, or a refund row found by
 * reconciliation) and revokes, once. A refund of a charge never recorded stores the payment as
 * refunded and flagged (nothing was granted, so nothing is revoked); if the charge shows up
 * later it replays that row and grants nothing.
 */
export async function recordRefund(
  db: Db,
  input: {
    projectId: string
    refund: RefundedPaymentInput
    from: PayerInput
    via: PaymentChannel
    by?: string | undefined
    reason?: string | undefined
    paidAt?: Date | undefined
    now?: Date | undefined
  },
): Promise<RefundOutcome> {
  const now = input.now ?? new Date()
  const by = input.by ?? (input.via === 'reconciliation' ? 'reconciliation' : 'telegram')
  const reason =
    input.reason ??
    (input.via === 'reconciliation'
      ? "refund found in Telegram's ledger"
      : 'refunded by Telegram (refunded_payment)')
  const chargeId = input.refund.telegram_payment_charge_id
  if (!chargeId) throw new InvalidInput('telegram_payment_charge_id', 'must not be empty')
  return transact(db, async (tx) => {
    const customer = await upsertAndLockCustomer(
      tx,
      input.projectId,
      input.from.id,
      profileOf(input.from),
    )
    const [known] = await tx
      .select({ id: payments.id })
      .from(payments)
      .where(
        and(
          eq(payments.projectId, input.projectId),
          eq(payments.telegramPaymentChargeId, chargeId),
        ),
      )
    if (!known) {
      await tx
        .insert(payments)
        .values({
          projectId: input.projectId,
          telegramPaymentChargeId: chargeId,
          providerPaymentChargeId: input.refund.provider_payment_charge_id || null,
          customerId: customer.id,
          telegramUserId: input.from.id,
          orderId: null,
          amountStars: Math.max(1, input.refund.total_amount),
          currency: input.refund.currency,
          invoicePayload: input.refund.invoice_payload,
          status: 'refunded',
          flag: 'refunded_before_recorded',
          recordedVia: input.via,
          paidAt: input.paidAt ?? now,
          refundedAt: now,
          refundedBy: by,
          refundReason: reason,
          refundShortfall: 0,
          refundPolicy: null,
        })
        .onConflictDoNothing()
    }
    const outcome = await revokePayment(tx, {
      projectId: input.projectId,
      telegramPaymentChargeId: chargeId,
      by,
      reason,
      now,
    })
    return known ? outcome : { ...outcome, alreadyRefunded: false }
  })
}

/**
 * Takes the credits of revoked lots out of the customer's open holds: a hold keeps only what came
 * from other lots, and one left empty is closed as released. Returns the amount taken per lot.
 */
async function voidHeldCredits(
  tx: Tx,
  customer: LockedCustomer,
  revokedLots: Set<number>,
  now: Date,
): Promise<{ byLot: Map<number, number>; deferredMicros: number }> {
  const byLot = new Map<number, number>()
  // A hold closed here has no closing entry: its deferred value (the hold entry's revenue) is
  // recognised by the refund's entry instead, which reverses it with the lot's whole value.
  let deferredMicros = 0
  if (revokedLots.size === 0) return { byLot, deferredMicros }
  const open = await rows<{ id: string; amount: string; allocations: unknown }>(
    tx,
    sql`select id, amount, allocations from holds
        where project_id = ${customer.projectId} and customer_id = ${customer.id} and status = 'active'`,
  )
  for (const hold of open) {
    const allocations = parseAllocations(hold.allocations)
    const kept = allocations.filter((a) => !revokedLots.has(a.lotId))
    if (kept.length === allocations.length) continue
    for (const a of allocations) {
      if (revokedLots.has(a.lotId)) byLot.set(a.lotId, (byLot.get(a.lotId) ?? 0) + a.amount)
    }
    const left = kept.reduce((sum, a) => sum + a.amount, 0)
    if (left === 0) {
      const [deferred] = await rows<{ value: string | null }>(
        tx,
        sql`select revenue_micros as value from ledger_entries
            where project_id = ${customer.projectId} and customer_id = ${customer.id}
              and kind = 'hold' and hold_id = ${hold.id}::uuid order by id limit 1`,
      )
      deferredMicros += Number(deferred?.value ?? 0)
    }
    await tx.execute(
      left > 0
        ? sql`update holds set amount = ${left}, allocations = ${JSON.stringify(kept)}::jsonb
              where project_id = ${customer.projectId} and id = ${hold.id}`
        : sql`update holds set status = 'released', settled_amount = 0, closed_at = ${now.toISOString()}::timestamptz
              where project_id = ${customer.projectId} and id = ${hold.id}`,
    )
  }
  return { byLot, deferredMicros }
}
