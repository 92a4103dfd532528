import {
  type Executor,
  entitlements,
  orders,
  payments,
  rows,
  subscriptions,
  type Tx,
} from '@e-stars/db'
import { and, desc, eq, isNotNull, lt, sql } from 'drizzle-orm'
import { SUBSCRIPTION_DAYS } from '../catalog/products.ts'
import { InvalidInput, NotFound } from '../errors.ts'
import type { Secrets } from '../identity/secrets.ts'
import {
  type LockedCustomer,
  type TelegramProfile,
  upsertAndLockCustomer,
} from '../ledger/customers.ts'
import { sweepExpired } from '../ledger/expiry.ts'
import { addLot } from '../ledger/grant.ts'
import { transact } from '../ledger/transaction.ts'
import { paidLotValue } from '../margin/value.ts'
import { accessEnd, grantEntitlement } from '../usage/entitlements.ts'
import { ownsForLife } from './orders.ts'
import { applyRenewalState, emitEvent } from './subscriptions.ts'

const DAY_MS = 86_400_000

/** Telegram's `successful_payment` (Bot API names). */
export interface SuccessfulPaymentInput {
  currency: string
  total_amount: number
  invoice_payload: string
  telegram_payment_charge_id: string
  provider_payment_charge_id?: string | undefined
  subscription_expiration_date?: number | undefined
  is_recurring?: boolean | undefined
  is_first_recurring?: boolean | undefined
}

/** The payer, as Telegram's `User` names it. */
export interface PayerInput {
  id: number
  username?: string | undefined
  first_name?: string | undefined
  last_name?: string | undefined
  language_code?: string | undefined
}

export type PaymentChannel = 'api' | 'relay' | 'reconciliation'

/**
 * Why a payment needs an operator's eye. Unmatched payments grant nothing; the others are paid
 * and granted (except a second lifetime unlock and a duplicate renewal, which grant nothing).
 */
export type PaymentFlag =
  | 'no_order'
  | 'bad_signature'
  | 'order_not_found'
  | 'amount_mismatch'
  | 'payer_mismatch'
  | 'duplicate_lifetime_unlock'
  | 'duplicate_renewal'
  | 'refunded_before_recorded'
  | 'missing_at_telegram'

export interface RecordPaymentInput {
  projectId: string
  payment: SuccessfulPaymentInput
  from: PayerInput
  secrets: Secrets
  via: PaymentChannel
  /** When Telegram charged; default `now`. Reconciliation passes the ledger row's date. */
  paidAt?: Date | undefined
  /**
   * What Telegram's ledger says the bot received (reconciliation): the transaction type and the
   * gross, the affiliate's commission and its `AffiliateInfo`, in nanostars. Without it the gross
   * is the whole-Star price and the net equals it.
   */
  stars?: StarsReceived | undefined
  now?: Date | undefined
}

/** Gross, commission and net of one charge, in nanostars (1 Star = 10^9), exact. */
export interface StarsReceived {
  transactionType: string | null
  grossNanostars: number
  commissionNanostars: number
  affiliate: Record<string, unknown> | null
}

export const NANOSTARS_PER_STAR = 1_000_000_000

export interface PaymentOutcome {
  paymentId: number
  telegramPaymentChargeId: string
  status: 'paid' | 'refunded' | 'unmatched'
  flag: PaymentFlag | null
  /** True when this charge was already recorded: nothing was granted again. */
  duplicate: boolean
  orderId: string | null
  productKey: string | null
  /** Credits this payment granted. */
  credits: number
  /** The entitlement this payment bought: feature and end (ISO, null: for life). */
  entitlement: { featureKey: string; endsAt: string | null } | null
  subscriptionId: string | null
  telegramUserId: number
  available: number
  held: number
  debt: number
}

interface OrderRow {
  id: string
  customer_id: string
  product_key: string
  kind: 'pack' | 'unlock' | 'subscription' | 'paid_media'
  title: string
  price_stars: string
  credits: string
  credits_expire_days: number | null
  feature_key: string | null
  duration_days: number | null
  status: string
}

export const profileOf = (from: PayerInput): TelegramProfile => ({
  username: from.username,
  firstName: from.first_name,
  lastName: from.last_name,
  languageCode: from.language_code,
})

/**
 * Records a Telegram charge exactly once per `telegram_payment_charge_id` and grants what its
 * order bought (credits, entitlement, subscription period) in the same transaction. A repeat —
 * ten deliveries, concurrent, from the bot, the relay and reconciliation alike — replays the
 * stored outcome and grants nothing. A charge matching no order is stored as `unmatched`.
 */
export async function recordPayment(
  db: Executor,
  input: RecordPaymentInput,
): Promise<PaymentOutcome> {
  const p = input.payment
  if (!p.telegram_payment_charge_id || p.telegram_payment_charge_id.length > 256)
    throw new InvalidInput('telegram_payment_charge_id', 'must be 1–256 characters')
  if (!Number.isSafeInteger(p.total_amount) || p.total_amount < 1)
    throw new InvalidInput('total_amount', 'must be a positive whole number')
  const now = input.now ?? new Date()
  const paidAt = input.paidAt ?? now
  const stars = input.stars ?? {
    transactionType: null,
    grossNanostars: p.total_amount * NANOSTARS_PER_STAR,
    commissionNanostars: 0,
    affiliate: null,
  }
  if (
    !Number.isSafeInteger(stars.grossNanostars) ||
    !Number.isSafeInteger(stars.commissionNanostars) ||
    stars.commissionNanostars < 0 ||
    stars.commissionNanostars > stars.grossNanostars
  )
    throw new InvalidInput('commission', 'must be between 0 and the gross, in whole nanostars')
  return transact(db, async (tx) => {
    const customer = await upsertAndLockCustomer(
      tx,
      input.projectId,
      input.from.id,
      profileOf(input.from),
    )
    const existing = await paymentIdOf(tx, input.projectId, p.telegram_payment_charge_id)
    if (existing !== null) return outcomeOf(tx, customer, existing, true)
    await sweepExpired(tx, customer, now)

    const { order, flag: matchFlag } = await matchOrder(tx, input)
    if (order?.kind === 'paid_media') {
      const earlier = await paidMediaPaymentOf(tx, input, order.id)
      if (earlier !== null) return outcomeOf(tx, customer, earlier, true)
    }
    let flag: PaymentFlag | null = matchFlag
    const matched = order !== null && flag === null
    if (matched && Number(order.customer_id) !== customer.id) flag = 'payer_mismatch'
    const [inserted] = await tx
      .insert(payments)
      .values({
        projectId: input.projectId,
        telegramPaymentChargeId: p.telegram_payment_charge_id,
        providerPaymentChargeId: p.provider_payment_charge_id || null,
        customerId: customer.id,
        telegramUserId: input.from.id,
        orderId: order?.id ?? null,
        productKey: order?.product_key ?? null,
        amountStars: p.total_amount,
        currency: p.currency,
        invoicePayload: p.invoice_payload,
        isRecurring: Boolean(p.is_recurring),
        transactionType: stars.transactionType,
        grossNanostars: stars.grossNanostars,
        commissionNanostars: stars.commissionNanostars,
        netNanostars: stars.grossNanostars - stars.commissionNanostars,
        affiliate: stars.affiliate,
        status: matched ? 'paid' : 'unmatched',
        flag,
        recordedVia: input.via,
        paidAt,
      })
      .onConflictDoNothing()
      .returning({ id: payments.id })
    // Only a forged charge id reused across payers gets here: the first one stands.
    if (!inserted) {
      const id = await paymentIdOf(tx, input.projectId, p.telegram_payment_charge_id)
      return outcomeOf(tx, customer, id!, true)
    }
    const paymentId = inserted.id
    if (matched) await fulfil(tx, { input, customer, order, paymentId, paidAt, now })
    // The outbox (signed webhooks), in the payment's transaction: once per charge, never a repeat.
    await emitEvent(tx, {
      projectId: input.projectId,
      customerId: customer.id,
      type: 'payment.succeeded',
      payload: {
        paymentId,
        telegramPaymentChargeId: p.telegram_payment_charge_id,
        telegramUserId: input.from.id,
        amountStars: p.total_amount,
        productKey: order?.product_key ?? null,
        status: matched ? 'paid' : 'unmatched',
        flag,
      },
    })
    return outcomeOf(tx, customer, paymentId, false)
  })
}

/**
 * Paid media's purchase update carries no charge id, so it is recorded under a provisional one
 * (`paidMediaChargeId`) and the order — one post, one buyer — is what makes it once. When
 * Telegram's ledger shows the real charge, the provisional row takes its id and its amounts; a
 * second delivery of either kind finds the row and grants nothing. The order row is locked.
 */
async function paidMediaPaymentOf(
  tx: Tx,
  input: Pick<RecordPaymentInput, 'projectId' | 'payment' | 'stars'>,
  orderId: string,
): Promise<number | null> {
  const [earlier] = await tx
    .select({ id: payments.id, chargeId: payments.telegramPaymentChargeId })
    .from(payments)
    .where(and(eq(payments.projectId, input.projectId), eq(payments.orderId, orderId)))
    .orderBy(payments.id)
    .limit(1)
  if (!earlier) return null
  const incoming = input.payment.telegram_payment_charge_id
  if (earlier.chargeId === paidMediaChargeId(orderId) && incoming !== earlier.chargeId) {
    await tx
      .update(payments)
      .set({
        telegramPaymentChargeId: incoming,
        ...(input.stars
          ? {
              transactionType: input.stars.transactionType,
              grossNanostars: input.stars.grossNanostars,
              commissionNanostars: input.stars.commissionNanostars,
              netNanostars: input.stars.grossNanostars - input.stars.commissionNanostars,
              affiliate: input.stars.affiliate,
            }
          : {}),
      })
      .where(and(eq(payments.projectId, input.projectId), eq(payments.id, earlier.id)))
  }
  return earlier.id
}

/** The provisional charge id of a paid-media purchase known only from its update. */
export const paidMediaChargeId = (orderId: string) => `paid_media:${orderId}`

async function paymentIdOf(tx: Executor, projectId: string, chargeId: string) {
  const [row] = await tx
    .select({ id: payments.id })
    .from(payments)
    .where(and(eq(payments.projectId, projectId), eq(payments.telegramPaymentChargeId, chargeId)))
  return row?.id ?? null
}

async function matchOrder(
  tx: Tx,
  input: Pick<RecordPaymentInput, 'projectId' | 'payment' | 'secrets'>,
): Promise<{ order: OrderRow | null; flag: PaymentFlag | null }> {
  const ref = input.secrets.verifyOrderRef(input.projectId, input.payment.invoice_payload)
  if (!ref.ok)
    return { order: null, flag: ref.reason === 'not_ours' ? 'no_order' : 'bad_signature' }
  const [order] = await rows<OrderRow>(
    tx,
    sql`select id, customer_id, product_key, kind, title, price_stars, credits, credits_expire_days,
          feature_key, duration_days, status
        from orders where project_id = ${input.projectId} and id = ${ref.orderId} for update`,
  )
  if (!order) return { order: null, flag: 'order_not_found' }
  if (input.payment.currency !== 'XTR' || input.payment.total_amount !== Number(order.price_stars))
    return { order, flag: 'amount_mismatch' }
  return { order, flag: null }
}

/** Grants what the order bought. The customer is locked; the payment row exists. */
type Fulfilment = {
  input: RecordPaymentInput
  customer: LockedCustomer
  order: OrderRow
  paymentId: number
  paidAt: Date
  now: Date
}

/** What a matched payment buys, in the payment's transaction: period, access, credits, order paid. */
async function fulfil(tx: Tx, ctx: Fulfilment) {
  const { input, customer, order, paidAt, now } = ctx
  const projectId = input.projectId
  if (order.kind === 'unlock' && order.duration_days === null && order.feature_key) {
    // Policy: a second lifetime unlock is recorded and flagged for refund; it grants nothing.
    if (await ownsForLife(tx, projectId, customer.id, order.feature_key, now)) {
      await setPayment(tx, ctx, { flag: 'duplicate_lifetime_unlock' })
      await markOrderPaid(tx, projectId, order.id, paidAt)
      return
    }
  }
  let source: 'payment' | 'renewal' = 'payment'
  if (order.kind === 'subscription') {
    const period = await extendSubscription(tx, ctx)
    if (period === 'duplicate') return
    source = period.source
  }
  // Paid media grants like an unlock: its feature (if any) and its credits.
  if ((order.kind === 'unlock' || order.kind === 'paid_media') && order.feature_key)
    await grantUnlock(tx, ctx, order.feature_key)
  await addBoughtCredits(tx, ctx, source)
  await markOrderPaid(tx, projectId, order.id, paidAt)
}

function setPayment(tx: Tx, ctx: Fulfilment, values: Partial<typeof payments.$inferInsert>) {
  return tx
    .update(payments)
    .set(values)
    .where(and(eq(payments.projectId, ctx.input.projectId), eq(payments.id, ctx.paymentId)))
}

/** A subscription charge: a new subscription, or the next period of the payer's own. */
async function extendSubscription(
  tx: Tx,
  ctx: Fulfilment,
): Promise<'duplicate' | { source: 'payment' | 'renewal'; subscriptionId: string }> {
  const { input, customer, order, paymentId, paidAt, now } = ctx
  const projectId = input.projectId
  let source: 'payment' | 'renewal' = 'payment'
  let subscriptionId: string
  const expiresAt = await subscriptionPeriodEnd(tx, input, order, paidAt, customer.id)
  const found = await subscriptionOfOrder(tx, projectId, order.id, customer.id)
  if (found) {
    subscriptionId = found.id
    source = 'renewal'
    const [repeat] = await tx
      .select({ id: payments.id })
      .from(payments)
      .where(
        and(
          eq(payments.projectId, projectId),
          eq(payments.subscriptionId, found.id),
          eq(payments.subscriptionExpiresAt, expiresAt),
        ),
      )
    // The same period delivered under a second charge id: stored, flagged, granted once. It is
    // not linked to the subscription, so refunding it cannot end the period the other one paid.
    if (repeat) {
      await setPayment(tx, ctx, { flag: 'duplicate_renewal' })
      return 'duplicate'
    }
    await setPayment(tx, ctx, { subscriptionId, subscriptionExpiresAt: expiresAt })
    // A renewal Telegram charged after a failed one: renewing again, recorded as a change.
    if (found.renewalState === 'failed')
      await applyRenewalState(tx, {
        projectId,
        subscriptionId,
        state: 'active',
        source: 'telegram',
        details: { renewedBy: input.payment.telegram_payment_charge_id },
        now,
      })
    await tx
      .update(subscriptions)
      .set({
        currentPeriodEnd: sql`greatest(${subscriptions.currentPeriodEnd}, ${expiresAt.toISOString()}::timestamptz)`,
        // A renewal Telegram charged means the subscription runs again, whatever ended it before.
        status: sql`case when ${subscriptions.status} in ('ended', 'refunded') then 'active' else ${subscriptions.status} end`,
      })
      .where(and(eq(subscriptions.projectId, projectId), eq(subscriptions.id, found.id)))
  } else {
    const [created] = await tx
      .insert(subscriptions)
      .values({
        projectId,
        customerId: customer.id,
        productId: await productIdOfOrder(tx, projectId, order.id),
        productKey: order.product_key,
        firstChargeId: input.payment.telegram_payment_charge_id,
        currentPeriodEnd: expiresAt,
        createdAt: paidAt,
      })
      .returning({ id: subscriptions.id })
    subscriptionId = created!.id
    await setPayment(tx, ctx, { subscriptionId, subscriptionExpiresAt: expiresAt })
  }
  if (order.feature_key)
    await grantEntitlement(tx, {
      projectId,
      customerId: customer.id,
      featureKey: order.feature_key,
      source: 'subscription',
      startsAt: paidAt,
      endsAt: expiresAt,
      paymentId,
      orderId: order.id,
      subscriptionId,
    })
  return { source, subscriptionId }
}

/** An unlock: access for its days (stacked after what is left) or for life. */
async function grantUnlock(tx: Tx, ctx: Fulfilment, featureKey: string) {
  const { input, customer, order, paymentId, paidAt, now } = ctx
  const projectId = input.projectId
  let endsAt: Date | null = null
  let startsAt = paidAt
  if (order.duration_days !== null) {
    // Stacks: 30 days bought while 10 remain end 40 days from now.
    const until = await accessEnd(tx, projectId, customer.id, featureKey, now)
    if (until instanceof Date && until > startsAt) startsAt = until
    endsAt = new Date(startsAt.getTime() + order.duration_days * DAY_MS)
  }
  await grantEntitlement(tx, {
    projectId,
    customerId: customer.id,
    featureKey: featureKey,
    source: 'unlock',
    startsAt,
    endsAt,
    paymentId,
    orderId: order.id,
  })
}

/** The credits a pack or a subscription period brings, as one lot linked to the payment. */
async function addBoughtCredits(tx: Tx, ctx: Fulfilment, source: 'payment' | 'renewal') {
  const { input, customer, order, paymentId, paidAt, now } = ctx
  const actor = `telegram:${input.via}`
  const credits = Number(order.credits)
  if (credits > 0) {
    const expiresAt =
      order.credits_expire_days === null
        ? null
        : new Date(paidAt.getTime() + order.credits_expire_days * DAY_MS)
    await addLot(tx, customer, {
      amount: credits,
      source,
      reason: `${order.title} (${source === 'renewal' ? 'renewal' : 'payment'})`,
      actor,
      paymentId,
      expiresAt: expiresAt && expiresAt > now ? expiresAt : null,
      valueMicros: await paidLotValue(tx, customer.projectId, paymentId),
      now,
      metadata: {
        paymentId,
        orderId: order.id,
        productKey: order.product_key,
        telegramPaymentChargeId: input.payment.telegram_payment_charge_id,
      },
    })
  }
}

async function markOrderPaid(tx: Tx, projectId: string, orderId: string, paidAt: Date) {
  await tx
    .update(orders)
    .set({ status: 'paid', paidAt })
    .where(and(eq(orders.projectId, projectId), eq(orders.id, orderId), eq(orders.status, 'open')))
}

async function productIdOfOrder(tx: Tx, projectId: string, orderId: string) {
  const [row] = await tx
    .select({ productId: orders.productId })
    .from(orders)
    .where(and(eq(orders.projectId, projectId), eq(orders.id, orderId)))
  return row!.productId
}

/** The subscription an order started: any earlier payment of the order names it. */
/** The payer's subscription this order started (a renewal re-uses the first invoice's payload). */
async function subscriptionOfOrder(tx: Tx, projectId: string, orderId: string, customerId: number) {
  const [row] = await tx
    .select({
      id: subscriptions.id,
      currentPeriodEnd: subscriptions.currentPeriodEnd,
      renewalState: subscriptions.renewalState,
    })
    .from(payments)
    .innerJoin(
      subscriptions,
      and(
        eq(subscriptions.projectId, payments.projectId),
        eq(subscriptions.id, payments.subscriptionId),
      ),
    )
    .where(
      and(
        eq(payments.projectId, projectId),
        eq(payments.orderId, orderId),
        eq(subscriptions.customerId, customerId),
        isNotNull(payments.subscriptionId),
      ),
    )
    .orderBy(subscriptions.createdAt)
    .limit(1)
  return row ?? null
}

/**
 * The period end Telegram states (`subscription_expiration_date`); a charge found by
 * reconciliation has none, so it continues the current period (or starts at the charge).
 */
async function subscriptionPeriodEnd(
  tx: Tx,
  input: RecordPaymentInput,
  order: OrderRow,
  paidAt: Date,
  customerId: number,
): Promise<Date> {
  const stated = input.payment.subscription_expiration_date
  if (stated !== undefined) return new Date(stated * 1000)
  const period = SUBSCRIPTION_DAYS * DAY_MS
  const current = await subscriptionOfOrder(tx, input.projectId, order.id, customerId)
  // A charge paid during the current period renews it; one paid before that period began (a
  // first charge recovered late) covered its own 30 days and must not add a month at the end.
  const renews =
    current !== null &&
    current.currentPeriodEnd > paidAt &&
    paidAt.getTime() >= current.currentPeriodEnd.getTime() - period
  const from = renews ? current.currentPeriodEnd : paidAt
  return new Date(from.getTime() + period)
}

/** The stored outcome of a payment, with the customer's balance now. */
export async function outcomeOf(
  tx: Tx,
  customer: Pick<LockedCustomer, 'projectId' | 'telegramUserId' | 'available' | 'held' | 'debt'>,
  paymentId: number,
  duplicate: boolean,
): Promise<PaymentOutcome> {
  const [row] = await rows<{
    telegram_payment_charge_id: string
    status: PaymentOutcome['status']
    flag: PaymentFlag | null
    order_id: string | null
    product_key: string | null
    subscription_id: string | null
    telegram_user_id: string
    credits: string | null
  }>(
    tx,
    sql`select p.telegram_payment_charge_id, p.status, p.flag, p.order_id, p.product_key,
          p.subscription_id, p.telegram_user_id,
          (select sum(g.amount) from grants g where g.project_id = p.project_id and g.payment_id = p.id) as credits
        from payments p where p.project_id = ${customer.projectId} and p.id = ${paymentId}`,
  )
  if (!row) throw new NotFound('Payment', paymentId)
  const [entitlement] = await tx
    .select({ featureKey: entitlements.featureKey, endsAt: entitlements.endsAt })
    .from(entitlements)
    .where(
      and(eq(entitlements.projectId, customer.projectId), eq(entitlements.paymentId, paymentId)),
    )
    .limit(1)
  const same = Number(row.telegram_user_id) === customer.telegramUserId
  return {
    paymentId,
    telegramPaymentChargeId: row.telegram_payment_charge_id,
    status: row.status,
    flag: row.flag,
    duplicate,
    orderId: row.order_id,
    productKey: row.product_key,
    credits: Number(row.credits ?? 0),
    entitlement: entitlement
      ? { featureKey: entitlement.featureKey, endsAt: entitlement.endsAt?.toISOString() ?? null }
      : null,
    subscriptionId: row.subscription_id,
    telegramUserId: Number(row.telegram_user_id),
    available: same ? customer.available : 0,
    held: same ? customer.held : 0,
    debt: same ? customer.debt : 0,
  }
}

const paymentColumns = {
  id: payments.id,
  telegramPaymentChargeId: payments.telegramPaymentChargeId,
  telegramUserId: payments.telegramUserId,
  orderId: payments.orderId,
  productKey: payments.productKey,
  amountStars: payments.amountStars,
  status: payments.status,
  flag: payments.flag,
  isRecurring: payments.isRecurring,
  subscriptionId: payments.subscriptionId,
  subscriptionExpiresAt: payments.subscriptionExpiresAt,
  transactionType: payments.transactionType,
  grossNanostars: payments.grossNanostars,
  commissionNanostars: payments.commissionNanostars,
  netNanostars: payments.netNanostars,
  affiliate: payments.affiliate,
  recordedVia: payments.recordedVia,
  paidAt: payments.paidAt,
  refundedAt: payments.refundedAt,
  refundedBy: payments.refundedBy,
  refundReason: payments.refundReason,
  refundShortfall: payments.refundShortfall,
  refundPolicy: payments.refundPolicy,
}

type PaymentRow = Awaited<ReturnType<typeof selectPayments>>[number]
const selectPayments = (db: Executor) => db.select(paymentColumns).from(payments)

const toPayment = (row: PaymentRow) => ({
  ...row,
  subscriptionExpiresAt: row.subscriptionExpiresAt?.toISOString() ?? null,
  paidAt: row.paidAt.toISOString(),
  refundedAt: row.refundedAt?.toISOString() ?? null,
})

export type Payment = ReturnType<typeof toPayment>

export async function getPayment(
  db: Executor,
  input: { projectId: string; telegramPaymentChargeId: string },
): Promise<Payment> {
  const [row] = await selectPayments(db).where(
    and(
      eq(payments.projectId, input.projectId),
      eq(payments.telegramPaymentChargeId, input.telegramPaymentChargeId),
    ),
  )
  if (!row) throw new NotFound('Payment', input.telegramPaymentChargeId)
  return toPayment(row)
}

/** Newest first; filter by payer, by status, or only flagged ones. Keyset-paginated by id. */
export async function listPayments(
  db: Executor,
  input: {
    projectId: string
    telegramUserId?: number | undefined
    status?: 'paid' | 'refunded' | 'unmatched' | undefined
    flagged?: boolean | undefined
    cursor?: string | null | undefined
    limit?: number | undefined
  },
) {
  const limit = input.limit ?? 50
  const page = await selectPayments(db)
    .where(
      and(
        eq(payments.projectId, input.projectId),
        input.telegramUserId === undefined
          ? undefined
          : eq(payments.telegramUserId, input.telegramUserId),
        input.status === undefined ? undefined : eq(payments.status, input.status),
        input.flagged ? isNotNull(payments.flag) : undefined,
        input.cursor ? lt(payments.id, Number(input.cursor)) : undefined,
      ),
    )
    .orderBy(desc(payments.id))
    .limit(limit + 1)
  const list = page.slice(0, limit).map(toPayment)
  return {
    payments: list,
    nextCursor: page.length > limit ? String(list[list.length - 1]!.id) : null,
  }
}
