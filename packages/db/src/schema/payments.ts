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
import { instant, money } from './columns.ts'
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
    sortOrder: integer().notNull().default(0),
    archivedAt: instant(),
    createdAt: instant().notNull().defaultNow(),
    updatedAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    uniqueIndex('products_key').on(t.projectId, t.key),
    check('products_kind', sql`${t.kind} in ('pack', 'unlock', 'subscription')`),
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
    createdAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    uniqueIndex('payments_charge').on(t.projectId, t.telegramPaymentChargeId),
    index('payments_customer').on(t.projectId, t.customerId),
    index('payments_time').on(t.projectId, t.paidAt),
    check('payments_status', sql`${t.status} in ('paid', 'refunded', 'unmatched')`),
    check('payments_amount', sql`${t.amountStars} > 0`),
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
    createdAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    uniqueIndex('subscriptions_first_charge').on(t.projectId, t.firstChargeId),
    index('subscriptions_customer').on(t.projectId, t.customerId),
    check('subscriptions_status', sql`${t.status} in ('active', 'canceled', 'ended', 'refunded')`),
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
