import { sql } from 'drizzle-orm'
import {
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
import { instant, micros, money } from './columns.ts'
import { projects } from './projects.ts'

/**
 * A Telegram user within a project. `available`, `held` and `debt` are caches of the sums of the
 * customer's ledger entries, updated in the same transaction as the entries themselves.
 */
export const customers = pgTable(
  'customers',
  {
    projectId: uuid()
      .notNull()
      .references(() => projects.id),
    id: money().generatedAlwaysAsIdentity(),
    telegramUserId: money().notNull(),
    username: text(),
    firstName: text(),
    lastName: text(),
    languageCode: text(),
    available: money().notNull().default(0),
    held: money().notNull().default(0),
    debt: money().notNull().default(0),
    /** Earliest instant at which a lot or a hold of this customer expires; lets the hot path skip the sweep. */
    nextExpiryAt: instant(),
    blockedAt: instant(),
    /**
     * The hash of the customer's newest chained ledger entry (docs/security/ledger.md): moved in
     * the same statement as the balance, so the next entry links to it without reading the ledger.
     */
    ledgerHead: text(),
    createdAt: instant().notNull().defaultNow(),
    lastActiveAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    uniqueIndex('customers_telegram_user').on(t.projectId, t.telegramUserId),
    index('customers_next_expiry').on(t.nextExpiryAt).where(sql`${t.nextExpiryAt} is not null`),
    // Console search: prefix matches (`like 'ali%'`) on lower-cased names use these indexes.
    index('customers_username_search').on(t.projectId, sql`lower(${t.username}) text_pattern_ops`),
    index('customers_first_name_search').on(
      t.projectId,
      sql`lower(${t.firstName}) text_pattern_ops`,
    ),
    index('customers_last_name_search').on(t.projectId, sql`lower(${t.lastName}) text_pattern_ops`),
    check('customers_available_nonnegative', sql`${t.available} >= 0`),
    check('customers_held_nonnegative', sql`${t.held} >= 0`),
    check('customers_debt_nonnegative', sql`${t.debt} >= 0`),
  ],
)

/** A lot: credits added to a customer, spent in burn order. */
export const grants = pgTable(
  'grants',
  {
    projectId: uuid().notNull(),
    id: money().generatedAlwaysAsIdentity(),
    customerId: money().notNull(),
    amount: money().notNull(),
    remaining: money().notNull(),
    source: text().notNull(),
    reason: text().notNull(),
    priority: integer().notNull().default(0),
    expiresAt: instant(),
    paymentId: money(),
    /** Set when the expiry entry has been written or the lot was voided by a refund. */
    closedAt: instant(),
    /**
     * What the lot's credits are worth in micro-USD, snapshotted when it is created (a paid lot:
     * net Stars × the project's USD-per-Star rate; a free or promo lot: 0 unless set).
     * `valueRemainingMicros` is the part not yet recognised as revenue or reversed.
     */
    valueMicros: micros().notNull().default(0),
    valueRemainingMicros: micros().notNull().default(0),
    createdAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    foreignKey({
      columns: [t.projectId, t.customerId],
      foreignColumns: [customers.projectId, customers.id],
    }),
    index('grants_live').on(t.projectId, t.customerId).where(sql`${t.remaining} > 0`),
    index('grants_expiring')
      .on(t.expiresAt)
      .where(sql`${t.remaining} > 0 and ${t.expiresAt} is not null`),
    check('grants_amount_positive', sql`${t.amount} > 0`),
    check('grants_remaining_bounds', sql`${t.remaining} >= 0 and ${t.remaining} <= ${t.amount}`),
    check(
      'grants_value_bounds',
      sql`${t.valueMicros} >= 0 and ${t.valueRemainingMicros} >= 0 and ${t.valueRemainingMicros} <= ${t.valueMicros}`,
    ),
    check(
      'grants_source',
      sql`${t.source} in ('payment', 'renewal', 'promo', 'manual', 'free_allowance', 'adjustment')`,
    ),
  ],
)

/** Credits reserved for work whose cost is known only afterwards. */
export const holds = pgTable(
  'holds',
  {
    projectId: uuid().notNull(),
    id: uuid().notNull().defaultRandom(),
    customerId: money().notNull(),
    amount: money().notNull(),
    /** Which lots the held credits came from: `[{ lotId, amount }]`, to return them exactly. */
    allocations: jsonb().$type<Array<{ lotId: number; amount: number }>>().notNull(),
    status: text().notNull().default('active'),
    reason: text().notNull(),
    settledAmount: money(),
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
    index('holds_active').on(t.projectId, t.customerId).where(sql`${t.status} = 'active'`),
    index('holds_expiring').on(t.expiresAt).where(sql`${t.status} = 'active'`),
    check('holds_amount_positive', sql`${t.amount} > 0`),
    check('holds_status', sql`${t.status} in ('active', 'settled', 'released', 'expired')`),
    check('holds_settled_bounds', sql`${t.settledAmount} is null or ${t.settledAmount} >= 0`),
  ],
)

/**
 * Append-only: one row per change of a customer's balance. `amount`, `heldChange` and
 * `debtChange` are the deltas; the customer's cached columns always equal their sums.
 * Triggers refuse UPDATE, DELETE and TRUNCATE (migration 0007_append_only_ledger), and each
 * customer's entries form a hash chain (`prevHash` → `hash`) that `verifyLedger` walks.
 */
export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    projectId: uuid().notNull(),
    id: money().generatedAlwaysAsIdentity(),
    customerId: money().notNull(),
    kind: text().notNull(),
    amount: money().notNull(),
    heldChange: money().notNull().default(0),
    debtChange: money().notNull().default(0),
    availableAfter: money().notNull(),
    heldAfter: money().notNull(),
    debtAfter: money().notNull(),
    /** Lots touched: `[{ lotId, amount }]` with signed amounts. */
    lots: jsonb().$type<Array<{ lotId: number; amount: number }>>().notNull().default([]),
    grantId: money(),
    holdId: uuid(),
    reason: text().notNull(),
    actor: text().notNull(),
    idempotencyKey: text(),
    metadata: jsonb().$type<Record<string, unknown>>(),
    /** Revenue this entry recognised (micro-USD) from the lots it burned; negative when a refund reverses it. */
    revenueMicros: micros(),
    /** Cost of goods of the metered act this entry records (micro-USD). */
    costMicros: micros(),
    /** The act's usage record: `{ provider, model, inputTokens, outputTokens, ... , unpriced? }`. */
    usage: jsonb().$type<Record<string, unknown>>(),
    createdAt: instant().notNull().defaultNow(),
    /** The hash of the customer's previous chained entry; null for the first one. */
    prevHash: text(),
    /** SHA-256 (hex) over this entry's content and `prevHash`; null only before the chain began. */
    hash: text(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    foreignKey({
      columns: [t.projectId, t.customerId],
      foreignColumns: [customers.projectId, customers.id],
    }),
    index('ledger_entries_customer').on(t.projectId, t.customerId, t.id),
    check(
      'ledger_entries_kind',
      sql`${t.kind} in ('grant', 'consume', 'hold', 'settle', 'release', 'hold_expire', 'expire', 'revoke', 'adjust', 'repay', 'shortfall')`,
    ),
    check('ledger_entries_cost', sql`${t.costMicros} is null or ${t.costMicros} >= 0`),
    check(
      'ledger_entries_after_nonnegative',
      sql`${t.availableAfter} >= 0 and ${t.heldAfter} >= 0 and ${t.debtAfter} >= 0`,
    ),
  ],
)

/**
 * Where each project's hash chains begin: entries up to `lastUnchainedEntryId` were written before
 * the chain existed and carry no hash; every later entry must. Written once by the migration that
 * introduced the chain, append-only like the ledger.
 */
export const ledgerChainGenesis = pgTable('ledger_chain_genesis', {
  projectId: uuid().primaryKey(),
  lastUnchainedEntryId: money().notNull(),
  createdAt: instant().notNull().defaultNow(),
})

/** Stored results of mutating calls, so a retried request replays instead of applying twice. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    projectId: uuid().notNull(),
    key: text().notNull(),
    operation: text().notNull(),
    requestHash: text().notNull(),
    response: jsonb(),
    createdAt: instant().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.key] }),
    index('idempotency_keys_age').on(t.createdAt),
  ],
)
