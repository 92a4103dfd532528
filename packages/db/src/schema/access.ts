import { sql } from 'drizzle-orm'
import {
  boolean,
  check,
  foreignKey,
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
import { customers } from './ledger.ts'
import { projects } from './projects.ts'

/**
 * Something metered or gated. A metered feature costs `credits` per `perUnits` units
 * (e.g. 1 credit per 100 `ai.tokens`); a gated feature is access only (an entitlement).
 */
export const features = pgTable(
  'features',
  {
    projectId: uuid()
      .notNull()
      .references(() => projects.id),
    key: text().notNull(),
    name: text().notNull(),
    kind: text().notNull(),
    credits: money().notNull().default(0),
    perUnits: money().notNull().default(1),
    /** A Mini App front end may consume this feature itself (`me.consume`); off by default. */
    clientConsumable: boolean().notNull().default(false),
    /**
     * Margin floor, in percent: at reserve, the estimate's expected cost may not exceed the value
     * of the credits held × (1 − floor); null is no floor.
     */
    marginFloorPercent: integer(),
    archivedAt: instant(),
    createdAt: instant().notNull().defaultNow(),
    updatedAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.key] }),
    check('features_kind', sql`${t.kind} in ('metered', 'gated')`),
    check('features_cost', sql`${t.credits} >= 0 and ${t.perUnits} > 0`),
    check(
      'features_margin_floor',
      sql`${t.marginFloorPercent} is null or ${t.marginFloorPercent} between 0 and 100`,
    ),
  ],
)

/** Access to a gated feature until `endsAt` (null: for life). Ended by expiry or revoked by a refund. */
export const entitlements = pgTable(
  'entitlements',
  {
    projectId: uuid().notNull(),
    id: money().generatedAlwaysAsIdentity(),
    customerId: money().notNull(),
    featureKey: text().notNull(),
    source: text().notNull(),
    startsAt: instant().notNull().defaultNow(),
    endsAt: instant(),
    paymentId: money(),
    orderId: uuid(),
    subscriptionId: uuid(),
    revokedAt: instant(),
    revokedReason: text(),
    revokedBy: text(),
    createdAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    foreignKey({
      columns: [t.projectId, t.customerId],
      foreignColumns: [customers.projectId, customers.id],
    }),
    index('entitlements_customer').on(t.projectId, t.customerId, t.featureKey),
    index('entitlements_payment').on(t.projectId, t.paymentId),
    check('entitlements_source', sql`${t.source} in ('unlock', 'subscription', 'operator')`),
  ],
)

/**
 * A usage limit per feature per window, independent of balance. Scope: the whole project, the
 * holders of a product (subscribers get more), or one customer (an override). `free` quotas are
 * allowances consumed before paid credits.
 */
export const quotas = pgTable(
  'quotas',
  {
    projectId: uuid()
      .notNull()
      .references(() => projects.id),
    id: uuid().notNull().defaultRandom(),
    featureKey: text().notNull(),
    scope: text().notNull(),
    productKey: text(),
    customerId: money(),
    limit: money().notNull(),
    period: text().notNull(),
    /** `calendar`: aligned to the project's time zone; `rolling`: the last period up to now. */
    window: text().notNull().default('calendar'),
    free: boolean().notNull().default(false),
    createdAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    index('quotas_feature').on(t.projectId, t.featureKey),
    check('quotas_scope', sql`${t.scope} in ('project', 'product', 'customer')`),
    check('quotas_period', sql`${t.period} in ('day', 'week', 'month')`),
    check('quotas_window', sql`${t.window} in ('calendar', 'rolling')`),
    check('quotas_limit', sql`${t.limit} >= 0`),
  ],
)

/** One row per consumption by feature: what quotas count. Append-only. */
export const usageEvents = pgTable(
  'usage_events',
  {
    projectId: uuid().notNull(),
    id: money().generatedAlwaysAsIdentity(),
    customerId: money().notNull(),
    featureKey: text().notNull(),
    quantity: money().notNull(),
    /** Units covered by a free allowance (cost no credits). */
    freeQuantity: money().notNull().default(0),
    credits: money().notNull().default(0),
    ledgerEntryId: money(),
    holdId: uuid(),
    occurredAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    index('usage_events_window').on(t.projectId, t.customerId, t.featureKey, t.occurredAt),
    check(
      'usage_events_quantity',
      sql`${t.quantity} >= 0 and ${t.freeQuantity} >= 0 and ${t.credits} >= 0`,
    ),
  ],
)

/**
 * Units of a feature reserved by a feature reservation (reserve an estimate, settle the actual).
 * Quotas count an active, unexpired reservation as used, so two concurrent reserves cannot both
 * take the last slot; settling writes the usage event and closes the reservation.
 */
export const usageReservations = pgTable(
  'usage_reservations',
  {
    projectId: uuid().notNull(),
    id: uuid().notNull().defaultRandom(),
    customerId: money().notNull(),
    featureKey: text().notNull(),
    quantity: money().notNull(),
    /** Units of the estimate covered by a free allowance. */
    freeQuantity: money().notNull().default(0),
    /** The credit hold for the paid part; null when the whole estimate was free. */
    holdId: uuid(),
    status: text().notNull().default('active'),
    expiresAt: instant().notNull(),
    closedAt: instant(),
    createdAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    foreignKey({
      columns: [t.projectId, t.customerId],
      foreignColumns: [customers.projectId, customers.id],
    }),
    index('usage_reservations_active')
      .on(t.projectId, t.customerId, t.featureKey)
      .where(sql`${t.status} = 'active'`),
    check(
      'usage_reservations_status',
      sql`${t.status} in ('active', 'settled', 'released', 'expired')`,
    ),
    check(
      'usage_reservations_quantity',
      sql`${t.quantity} > 0 and ${t.freeQuantity} >= 0 and ${t.freeQuantity} <= ${t.quantity}`,
    ),
  ],
)

/** Transactional outbox: written in the same transaction as the change it reports. */
export const events = pgTable(
  'events',
  {
    projectId: uuid().notNull(),
    id: money().generatedAlwaysAsIdentity(),
    customerId: money(),
    type: text().notNull(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    createdAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    index('events_cursor').on(t.projectId, t.id),
  ],
)

/** Per customer and condition: whether the "crossed" event was already sent for the current crossing. */
export const eventLatches = pgTable(
  'event_latches',
  {
    projectId: uuid().notNull(),
    customerId: money().notNull(),
    condition: text().notNull(),
    /** For windowed conditions (quota exhausted), the window it was latched for. */
    windowKey: text().notNull().default(''),
    latchedAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.customerId, t.condition] }),
    uniqueIndex('event_latches_window').on(t.projectId, t.customerId, t.condition, t.windowKey),
  ],
)
