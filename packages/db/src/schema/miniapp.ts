import { bigint, foreignKey, index, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core'
import { instant } from './columns.ts'
import { customers } from './ledger.ts'
import { projects } from './projects.ts'

/**
 * A Mini App end user's session: made from Telegram init data verified against the project's
 * bot token, scoped to exactly one project and one customer. Only the SHA-256 of the random
 * token is stored; the token itself names its project, so the look-up is tenant-scoped.
 */
export const customerSessions = pgTable(
  'customer_sessions',
  {
    projectId: uuid()
      .notNull()
      .references(() => projects.id),
    tokenHash: text().notNull(),
    customerId: bigint({ mode: 'number' }).notNull(),
    telegramUserId: bigint({ mode: 'number' }).notNull(),
    /** `auth_date` of the init data the session was made from. */
    authDate: instant().notNull(),
    createdAt: instant().notNull().defaultNow(),
    expiresAt: instant().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.tokenHash] }),
    foreignKey({
      columns: [t.projectId, t.customerId],
      foreignColumns: [customers.projectId, customers.id],
    }),
    index('customer_sessions_customer').on(t.projectId, t.customerId, t.expiresAt),
    index('customer_sessions_expiry').on(t.expiresAt),
  ],
)
