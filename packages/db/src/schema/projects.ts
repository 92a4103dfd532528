import { sql } from 'drizzle-orm'
import {
  bigint,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'

/** One bot: the tenant. Every other row carries its id. */
export const projects = pgTable(
  'projects',
  {
    id: uuid().primaryKey().defaultRandom(),
    name: text().notNull(),
    timeZone: text().notNull().default('UTC'),
    /** What a refund does with credits already spent: `debt` (balance goes negative) or `absorb`. */
    refundPolicy: text().notNull().default('debt'),
    lowBalanceThreshold: bigint({ mode: 'number' }).notNull().default(0),
    /** AES-GCM ciphertext of the bot token; never returned by any API. */
    botTokenEncrypted: text(),
    webhookSecret: text(),
    relayTarget: text(),
    /**
     * What happens when metered work costs more than its hold and the customer cannot pay the
     * difference: `cap` (reserve what can be paid and cap the model's tokens to it), `debt` (the
     * unpaid part becomes debt) or `absorb` (recorded as the operator's loss). Every shortfall is
     * a ledger entry whichever the policy.
     */
    overagePolicy: text().notNull().default('cap'),
    /** Micro-USD one Star pays out; 13,000 (0.013 USD) is the widely reported rate, an assumption until set. */
    usdPerStarMicros: bigint({ mode: 'number' }).notNull().default(13000),
    /** When the operator set their own rate; null while the default is an assumption. */
    usdPerStarSetAt: timestamp({ withTimezone: true }),
    /** A metered act naming a model the price book does not price: `refuse` or `flag` (record it). */
    unpricedModelPolicy: text().notNull().default('flag'),
    /** Refund abuse: this many refunds within `refundAbuseWindowDays` trigger `refundAbuseAction`; null is off. */
    refundAbuseLimit: integer(),
    refundAbuseWindowDays: integer().notNull().default(30),
    /** `refuse` purchases at pre-checkout, or `block` the customer. */
    refundAbuseAction: text().notNull().default('refuse'),
    /** Alert (an event) when a day's gross margin falls below this percentage; null is off. */
    marginAlertPercent: integer(),
    /** Days a subscription whose renewal failed keeps its entitlement past the period end. */
    subscriptionGraceDays: integer().notNull().default(0),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('projects_refund_policy', sql`${t.refundPolicy} in ('debt', 'absorb')`),
    check('projects_low_balance_threshold', sql`${t.lowBalanceThreshold} >= 0`),
    check('projects_overage_policy', sql`${t.overagePolicy} in ('cap', 'debt', 'absorb')`),
    check('projects_usd_per_star', sql`${t.usdPerStarMicros} >= 0`),
    check('projects_unpriced_model_policy', sql`${t.unpricedModelPolicy} in ('refuse', 'flag')`),
    check(
      'projects_refund_abuse',
      sql`(${t.refundAbuseLimit} is null or ${t.refundAbuseLimit} > 0) and ${t.refundAbuseWindowDays} > 0 and ${t.refundAbuseAction} in ('refuse', 'block')`,
    ),
    check(
      'projects_margin_alert',
      sql`${t.marginAlertPercent} is null or ${t.marginAlertPercent} between -100 and 100`,
    ),
    check('projects_subscription_grace', sql`${t.subscriptionGraceDays} between 0 and 30`),
  ],
)

/** Bot-facing credentials. Only the SHA-256 of the key is stored. */
export const apiKeys = pgTable(
  'api_keys',
  {
    projectId: uuid()
      .notNull()
      .references(() => projects.id),
    id: uuid().notNull().defaultRandom(),
    name: text().notNull(),
    /** The first characters of the key, for recognising it in lists. */
    prefix: text().notNull(),
    keyHash: text().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp({ withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.id] }), uniqueIndex('api_keys_hash').on(t.keyHash)],
)

export const operators = pgTable('operators', {
  id: uuid().primaryKey().defaultRandom(),
  email: text().notNull().unique(),
  name: text().notNull(),
  passwordHash: text().notNull(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
})

export const projectMembers = pgTable(
  'project_members',
  {
    projectId: uuid()
      .notNull()
      .references(() => projects.id),
    operatorId: uuid()
      .notNull()
      .references(() => operators.id),
    role: text().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.operatorId] }),
    check('project_members_role', sql`${t.role} in ('owner', 'viewer')`),
  ],
)

/** Every operator action: who, when, what, before and after. */
export const auditLog = pgTable(
  'audit_log',
  {
    projectId: uuid()
      .notNull()
      .references(() => projects.id),
    id: bigint({ mode: 'number' }).generatedAlwaysAsIdentity(),
    actor: text().notNull(),
    action: text().notNull(),
    target: text(),
    before: jsonb(),
    after: jsonb(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    index('audit_log_time').on(t.projectId, t.createdAt),
  ],
)

/** Console sessions. The cookie carries a random token; only its SHA-256 is stored. */
export const operatorSessions = pgTable(
  'operator_sessions',
  {
    tokenHash: text().primaryKey(),
    operatorId: uuid()
      .notNull()
      .references(() => operators.id),
    /** Double-submit token every mutation must echo in a header. */
    csrfToken: text().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [index('operator_sessions_operator').on(t.operatorId)],
)

/**
 * Counters of rate-limiter-flexible's `RateLimiterDrizzle` (sign-in and login limits), shared by
 * every replica. A key names the limit and what it counts (`miniapp-signin:ip:203.0.113.7`).
 */
export const rateLimits = pgTable('rate_limits', {
  key: text().primaryKey(),
  points: integer().notNull().default(0),
  expire: timestamp({ withTimezone: true }),
})

/**
 * The project's price book: micro-USD per million tokens for one model. Entries override the
 * defaults shipped offline with the billing package; a metered act's cost is computed from them
 * when the caller gives no `costMicros`.
 */
export const priceBook = pgTable(
  'price_book',
  {
    projectId: uuid()
      .notNull()
      .references(() => projects.id),
    provider: text().notNull(),
    model: text().notNull(),
    inputPerMillionMicros: bigint({ mode: 'number' }).notNull(),
    outputPerMillionMicros: bigint({ mode: 'number' }).notNull(),
    cachedInputPerMillionMicros: bigint({ mode: 'number' }),
    updatedBy: text().notNull(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.provider, t.model] }),
    check(
      'price_book_prices',
      sql`${t.inputPerMillionMicros} >= 0 and ${t.outputPerMillionMicros} >= 0 and (${t.cachedInputPerMillionMicros} is null or ${t.cachedInputPerMillionMicros} >= 0)`,
    ),
  ],
)

/**
 * A cost cap: the most a customer's metered acts may cost (micro-USD) per day or month in the
 * project's time zone. Scope: the whole project, the holders of a product, or one customer (an
 * override, which wins over the others).
 */
export const costCaps = pgTable(
  'cost_caps',
  {
    projectId: uuid()
      .notNull()
      .references(() => projects.id),
    id: uuid().notNull().defaultRandom(),
    scope: text().notNull(),
    productKey: text(),
    customerId: bigint({ mode: 'number' }),
    period: text().notNull(),
    capMicros: bigint({ mode: 'number' }).notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    index('cost_caps_project').on(t.projectId),
    check('cost_caps_scope', sql`${t.scope} in ('project', 'product', 'customer')`),
    check('cost_caps_period', sql`${t.period} in ('day', 'month')`),
    check('cost_caps_positive', sql`${t.capMicros} > 0`),
  ],
)

/**
 * Signed webhooks: an operator's endpoint and the event types it wants (empty: all). The signing
 * secret is stored encrypted with SECRET_KEY, like the bot token.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    projectId: uuid()
      .notNull()
      .references(() => projects.id),
    id: uuid().notNull().defaultRandom(),
    url: text().notNull(),
    secretEncrypted: text().notNull(),
    eventTypes: jsonb().$type<string[]>().notNull().default([]),
    /** The newest event id already queued for this endpoint: events after it are its backlog. */
    cursor: bigint({ mode: 'number' }).notNull().default(0),
    disabledAt: timestamp({ withTimezone: true }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.id] })],
)

/** One event to one endpoint: the delivery outbox, retried with backoff until it succeeds or gives up. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    projectId: uuid().notNull(),
    id: bigint({ mode: 'number' }).generatedAlwaysAsIdentity(),
    endpointId: uuid().notNull(),
    eventId: bigint({ mode: 'number' }).notNull(),
    status: text().notNull().default('pending'),
    attempts: integer().notNull().default(0),
    lastStatusCode: integer(),
    lastError: text(),
    nextAttemptAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp({ withTimezone: true }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    uniqueIndex('webhook_deliveries_event').on(t.projectId, t.endpointId, t.eventId),
    index('webhook_deliveries_pending').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    check('webhook_deliveries_status', sql`${t.status} in ('pending', 'delivered', 'failed')`),
  ],
)
