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
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('projects_refund_policy', sql`${t.refundPolicy} in ('debt', 'absorb')`),
    check('projects_low_balance_threshold', sql`${t.lowBalanceThreshold} >= 0`),
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
