import { bigint, timestamp } from 'drizzle-orm/pg-core'

/** Credits, Stars and ids: `bigint` in the database, a safe integer in TypeScript (rule 1). */
export const money = () => bigint({ mode: 'number' })

/** Every timestamp carries its time zone. */
export const instant = () => timestamp({ withTimezone: true })
