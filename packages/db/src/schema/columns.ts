import { bigint, timestamp } from 'drizzle-orm/pg-core'

/** Credits, Stars and ids: `bigint` in the database, a safe integer in TypeScript (rule 1). */
export const money = () => bigint({ mode: 'number' })

/** Every timestamp carries its time zone. */
export const instant = () => timestamp({ withTimezone: true })

/**
 * Money on the cost side, in integer micro-USD (1 USD = 1,000,000): `bigint` in the database, a
 * safe integer in TypeScript, never a float (margin control, docs/margin.md).
 */
export const micros = () => bigint({ mode: 'number' })

/** Telegram's fractional Stars: 1 Star = 1,000,000,000 nanostars (`nanostar_amount`). */
export const nanostars = () => bigint({ mode: 'number' })
