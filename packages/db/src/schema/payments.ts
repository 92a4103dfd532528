import { sql } from 'drizzle-orm'
import {
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import { instant, money, nanostars } from './columns.ts'
import { projects } from './projects.ts'

/**
 * What a customer can buy for Stars: a credit `pack`, an `unlock` (entitlement to `featureKey`
 * for `durationDays`, or for life when null) or a 30-day `subscription` (entitlement and/or
 * `credits` each period).
 */
export const products = pgTable(
  'products',
  {
    projectId: uuid()
      .notNull()
      .references(() => projects.id),
    id: uuid().notNull().defaultRandom(),
    key: text().notNull(),
    kind: text().notNull(),
    title: text().notNull(),
    description: text().notNull(),
    priceStars: money().notNull(),
    credits: money().notNull().default(0),
    creditsExpireDays: integer(),
    featureKey: text(),
    durationDays: integer(),
    /** A `paid_media` product: the media `sendPaidMedia` sends (`[{ type: 'photo' | 'video', media }]`). */
    media: jsonb().$type<Array<{ type: 'photo' | 'video'; media: string }>>(),
    sortOrder: integer().notNull().default(0),
    archivedAt: instant(),
    createdAt: instant().notNull().defaultNow(),
    updatedAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    uniqueIndex('products_key').on(t.projectId, t.key),
    check('products_kind', sql`${t.kind} in ('pack', 'unlock', 'subscription', 'paid_media')`),
    check('products_price', sql`${t.priceStars} > 0 and ${t.priceStars} <= 100000`),
    check('products_credits', sql`${t.credits} >= 0`),
  ],
)

/** An invoice issued for one customer and one product: a snapshot of price and grants. */
export const orders = pgTable(
  'orders',
  {
    projectId: uuid().notNull(),
    id: uuid().notNull().defaultRandom(),
    customerId: money().notNull(),
    productId: uuid().notNull(),
    productKey: text().notNull(),
    kind: text().notNull(),
    title: text().notNull(),
    priceStars: money().notNull(),
    credits: money().notNull().default(0),
    creditsExpireDays: integer(),
    featureKey: text(),
    durationDays: integer(),
    status: text().notNull().default('open'),
    invoiceLink: text(),
    expiresAt: instant().notNull(),
    createdAt: instant().notNull().defaultNow(),
    paidAt: instant(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    index('orders_customer').on(t.projectId, t.customerId),
    check('orders_status', sql`${t.status} in ('open', 'paid', 'expired', 'cancelled')`),
  ],
)

/** A Telegram charge: unique by `telegram_payment_charge_id`, forever. */
export const payments = pgTable(
  'payments',
  {
    projectId: uuid().notNull(),
    id: money().generatedAlwaysAsIdentity(),
    telegramPaymentChargeId: text().notNull(),
    providerPaymentChargeId: text(),
    customerId: money(),
    telegramUserId: money().notNull(),
    orderId: uuid(),
    productKey: text(),
    amountStars: money().notNull(),
    currency: text().notNull().default('XTR'),
    invoicePayload: text().notNull(),
    isRecurring: boolean().notNull().default(false),
    subscriptionId: uuid(),
    subscriptionExpiresAt: instant(),
    /** `paid`, `refunded`, or `unmatched` (no order: stored and flagged, never dropped). */
    status: text().notNull(),
    flag: text(),
    /** How we learned of it: `api` (the bot), `relay` (webhook relay) or `reconciliation`. */
    recordedVia: text().notNull(),
    paidAt: instant().notNull(),
    refundedAt: instant(),
    refundedBy: text(),
    refundReason: text(),
    /** Credits already spent when refunded, and what the refund policy did with them. */
    refundShortfall: money(),
    refundPolicy: text(),
    /**
     * Telegram's `transaction_type` for a user partner: `invoice_payment`, `paid_media_payment`,
     * `subscription`, ... (null when learned before Bot API 10.x fields were stored).
     */
    transactionType: text(),
    /** Gross, affiliate commission and net in nanostars (1 Star = 10^9), exact to the nanostar. */
    grossNanostars: nanostars(),
    commissionNanostars: nanostars().notNull().default(0),
    netNanostars: nanostars(),
    /** Telegram's `AffiliateInfo` when an affiliate program took a commission. */
    affiliate: jsonb().$type<Record<string, unknown>>(),
    createdAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    uniqueIndex('payments_charge').on(t.projectId, t.telegramPaymentChargeId),
    index('payments_customer').on(t.projectId, t.customerId),
    index('payments_time').on(t.projectId, t.paidAt),
    check('payments_status', sql`${t.status} in ('paid', 'refunded', 'unmatched')`),
    check('payments_amount', sql`${t.amountStars} > 0`),
    check(
      'payments_nanostars',
      sql`${t.commissionNanostars} >= 0 and (${t.grossNanostars} is null or ${t.grossNanostars} > 0) and (${t.netNanostars} is null or ${t.netNanostars} >= 0)`,
    ),
  ],
)

/** A 30-day Stars subscription of one customer to one product. */
export const subscriptions = pgTable(
  'subscriptions',
  {
    projectId: uuid().notNull(),
    id: uuid().notNull().defaultRandom(),
    customerId: money().notNull(),
    productId: uuid().notNull(),
    productKey: text().notNull(),
    firstChargeId: text().notNull(),
    status: text().notNull().default('active'),
    currentPeriodEnd: instant().notNull(),
    canceledAt: instant(),
    /**
     * Telegram's renewal state (Bot API 10.2 `Update.subscription`): `active`, `canceled` (by the
     * user or by e-Stars; keeps access until the period ends) or `failed` (the renewal charge failed).
     */
    renewalState: text().notNull().default('active'),
    renewalStateAt: instant(),
    createdAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    uniqueIndex('subscriptions_first_charge').on(t.projectId, t.firstChargeId),
    index('subscriptions_customer').on(t.projectId, t.customerId),
    check('subscriptions_status', sql`${t.status} in ('active', 'canceled', 'ended', 'refunded')`),
    check(
      'subscriptions_renewal_state',
      sql`${t.renewalState} in ('active', 'canceled', 'failed')`,
    ),
  ],
)

/** Every change of a subscription's renewal state, and who made it. Append-only. */
export const subscriptionStateChanges = pgTable(
  'subscription_state_changes',
  {
    projectId: uuid().notNull(),
    id: money().generatedAlwaysAsIdentity(),
    subscriptionId: uuid().notNull(),
    state: text().notNull(),
    /** `telegram` (an update), `operator`, `refund`, `block` or `reconciliation`. */
    source: text().notNull(),
    updateId: money(),
    details: jsonb().$type<Record<string, unknown>>(),
    occurredAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    index('subscription_state_changes_subscription').on(t.projectId, t.subscriptionId, t.id),
    check('subscription_state_changes_state', sql`${t.state} in ('active', 'canceled', 'failed')`),
  ],
)

/**
 * The bot's Stars treasury as Telegram reports it (`getStarTransactions`): every transaction,
 * incoming (`source` partner) or outgoing (`receiver` partner), stored once by its id. Amounts are
 * in nanostars; `partnerType` is Telegram's (`user`, `fragment`, `telegram_ads`, `telegram_api`,
 * `affiliate_program`, ...), an unknown one is kept and flagged.
 */
export const starTransactions = pgTable(
  'star_transactions',
  {
    projectId: uuid().notNull(),
    id: text().notNull(),
    direction: text().notNull(),
    nanostars: nanostars().notNull(),
    partnerType: text().notNull(),
    /** For a user partner: `transaction_type`; for Fragment: the withdrawal state. */
    detail: text(),
    withdrawalState: text(),
    flagged: text(),
    raw: jsonb().$type<Record<string, unknown>>().notNull(),
    occurredAt: instant().notNull(),
    firstSeenAt: instant().notNull().defaultNow(),
    lastSeenAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id, t.direction] }),
    index('star_transactions_time').on(t.projectId, t.occurredAt),
    check('star_transactions_direction', sql`${t.direction} in ('in', 'out')`),
    check('star_transactions_amount', sql`${t.nanostars} >= 0`),
    check(
      'star_transactions_withdrawal',
      sql`${t.withdrawalState} is null or ${t.withdrawalState} in ('pending', 'succeeded', 'failed')`,
    ),
  ],
)

export const reconciliationRuns = pgTable(
  'reconciliation_runs',
  {
    projectId: uuid().notNull(),
    id: uuid().notNull().defaultRandom(),
    trigger: text().notNull(),
    status: text().notNull().default('running'),
    transactionsSeen: integer().notNull().default(0),
    summary: jsonb().$type<Record<string, number>>(),
    error: text(),
    startedAt: instant().notNull().defaultNow(),
    finishedAt: instant(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    index('reconciliation_runs_time').on(t.projectId, t.startedAt),
    check('reconciliation_runs_status', sql`${t.status} in ('running', 'succeeded', 'failed')`),
  ],
)

/** A difference between Telegram's ledger and ours, and what was done about it. */
export const reconciliationFindings = pgTable(
  'reconciliation_findings',
  {
    projectId: uuid().notNull(),
    id: uuid().notNull().defaultRandom(),
    runId: uuid().notNull(),
    kind: text().notNull(),
    telegramPaymentChargeId: text(),
    action: text().notNull(),
    details: jsonb().$type<Record<string, unknown>>().notNull(),
    resolvedAt: instant(),
    resolvedBy: text(),
    resolution: text(),
    createdAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    index('reconciliation_findings_run').on(t.projectId, t.runId),
    check('reconciliation_findings_action', sql`${t.action} in ('recorded', 'applied', 'flagged')`),
  ],
)

/** Webhook relay inbox: every update Telegram sent, committed before the 200, forwarded after. */
export const relayUpdates = pgTable(
  'relay_updates',
  {
    projectId: uuid().notNull(),
    updateId: money().notNull(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    receivedAt: instant().notNull().defaultNow(),
    forwardedAt: instant(),
    attempts: integer().notNull().default(0),
    lastError: text(),
    nextAttemptAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.updateId] }),
    index('relay_updates_pending').on(t.nextAttemptAt).where(sql`${t.forwardedAt} is null`),
  ],
)
