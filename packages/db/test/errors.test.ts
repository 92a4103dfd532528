import { createServer } from 'node:net'
import { sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, isDatabaseUnavailable, redactDetail, serializeError } from '../src/index.ts'
import { createTestDatabase } from '../src/testing.ts'

// Values that must never reach a log line: they travel as SQL parameters.
const SECRET = 'sk_live_9f8e7d6c5b4a39281706'
const HASH = 'scrypt$16384$8$1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo'

async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run()
  } catch (error) {
    return error
  }
  throw new Error('expected the statement to fail')
}

function expectNoParameters(serialized: Record<string, unknown>) {
  const text = JSON.stringify(serialized)
  expect(text).not.toContain(SECRET)
  expect(text).not.toContain(HASH)
  expect(text).not.toContain('params')
}

describe('database errors, serialized for logs', () => {
  let database: Database
  beforeAll(async () => {
    database = await createTestDatabase()
    await database.db.execute(
      sql`create table log_probe (id int primary key, key_hash text not null, owner uuid, constraint log_probe_key_hash_unique unique (key_hash))`,
    )
    await database.db.execute(sql`insert into log_probe values (1, ${HASH}, null)`)
  }, 60_000)
  afterAll(() => database?.close())

  it('a unique violation keeps code, constraint, table and message, not the key', async () => {
    const error = await failure(() =>
      database.db.execute(sql`insert into log_probe values (2, ${HASH}, null)`),
    )
    // drizzle 0.45 wraps the driver's error, with the parameters in its message.
    expect(String((error as Error).message)).toContain(HASH)
    const serialized = serializeError(error)
    expect(serialized).toMatchObject({
      code: '23505',
      constraint: 'log_probe_key_hash_unique',
      table: 'log_probe',
      message: 'duplicate key value violates unique constraint "log_probe_key_hash_unique"',
      detail: 'Key (key_hash)=(…) already exists.',
      wrappedBy: ['DrizzleQueryError'],
    })
    expectNoParameters(serialized)
    expect(isDatabaseUnavailable(error)).toBe(false)
  })

  it('a not-null violation names the column, not the row', async () => {
    const error = await failure(() =>
      database.db.execute(sql`insert into log_probe values (3, null, ${SECRET}::text::uuid)`),
    )
    const serialized = serializeError(error)
    // The cast fails first: a data exception quotes the input, which is redacted.
    expect(serialized).toMatchObject({ code: '22P02', message: expect.stringContaining('"…"') })
    expectNoParameters(serialized)

    const nullKey = await failure(() =>
      database.db.execute(sql`insert into log_probe (id, key_hash) values (${4}, null)`),
    )
    const described = serializeError(nullKey)
    expect(described).toMatchObject({ code: '23502', column: 'key_hash', table: 'log_probe' })
    if (described.detail !== undefined) expect(described.detail).toBe('Failing row contains (…).')
    expectNoParameters(described)
  })

  it('is idempotent, so a logger serializer may run over an already serialized error', async () => {
    const error = await failure(() =>
      database.db.execute(sql`insert into log_probe values (1, ${SECRET}, null)`),
    )
    const once = serializeError(error)
    expect(serializeError(once)).toBe(once)
    // A copy (a logger's redaction pass returns one) passes through as well.
    const copy = JSON.parse(JSON.stringify(once)) as Record<string, unknown>
    expect(serializeError(copy)).toEqual(once)
    // Any other plain object thrown is reduced to its type: it may hold anything.
    expect(serializeError({ password: SECRET })).toEqual({ type: 'Object' })
  })

  it('keeps type, message, stack and cause of an error that is not the database', () => {
    const error = new TypeError('boom', { cause: new RangeError('inner') })
    const serialized = serializeError(error)
    expect(serialized).toMatchObject({
      type: 'TypeError',
      message: 'boom',
      cause: { type: 'RangeError', message: 'inner' },
    })
    expect(String(serialized.stack)).toContain('errors.test.ts')
  })
})

describe('database unreachable', () => {
  let url: string
  beforeAll(async () => {
    // A port nothing listens on.
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    await new Promise((resolve) => server.close(resolve))
    url = `postgres://nobody@127.0.0.1:${port}/none`
  })

  it('a refused connection through drizzle is unavailable, and logs no parameter', async () => {
    const client = postgres(url, { max: 1, connect_timeout: 2, onnotice() {} })
    try {
      const error = await failure(() => drizzle(client).execute(sql`select ${SECRET}::text`))
      expect(isDatabaseUnavailable(error)).toBe(true)
      const serialized = serializeError(error)
      expect(serialized).toMatchObject({ code: 'ECONNREFUSED', unavailable: true })
      expectNoParameters(serialized)
    } finally {
      await client.end({ timeout: 0 })
    }
  })

  it('classifies connection codes, shutdown SQLSTATEs and wrapped causes', () => {
    const coded = (code: string, extra: Record<string, unknown> = {}) =>
      Object.assign(new Error(`failed ${code}`), { code, ...extra })
    for (const code of [
      'ECONNRESET',
      'EPIPE',
      'CONNECTION_CLOSED',
      'CONNECTION_ENDED',
      'CONNECTION_DESTROYED',
      'CONNECT_TIMEOUT',
    ])
      expect(isDatabaseUnavailable(coded(code)), code).toBe(true)
    for (const code of ['57P01', '57P02', '57P03', '08006', '08001'])
      expect(isDatabaseUnavailable(coded(code, { severity: 'FATAL' })), code).toBe(true)
    expect(isDatabaseUnavailable(coded('ENOENT', { syscall: 'connect' }))).toBe(true)
    expect(isDatabaseUnavailable(coded('ENOENT', { syscall: 'open' }))).toBe(false)
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true)
    expect(isDatabaseUnavailable(new Error('PGlite is closed'))).toBe(true)
    // Wrapped any number of times, or inside an AggregateError (Node's happy-eyeballs connect).
    const wrapped = new Error('outer', { cause: new Error('middle', { cause: coded('57P01') }) })
    expect(isDatabaseUnavailable(wrapped)).toBe(true)
    expect(isDatabaseUnavailable(new AggregateError([coded('ECONNREFUSED')], 'all failed'))).toBe(
      true,
    )
    // Not the database being away: a statement's own error, or a parameter that says "closed".
    for (const code of ['23505', '40P01', '40001', '22P02', '42P01'])
      expect(isDatabaseUnavailable(coded(code, { severity: 'ERROR' })), code).toBe(false)
    const drizzleLike = new Error('Failed query: select $1\nparams: connection closed')
    expect(isDatabaseUnavailable(drizzleLike)).toBe(false)
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false)
    expect(isDatabaseUnavailable(null)).toBe(false)
  })

  it('redacts the values of a constraint detail and keeps plain details', () => {
    expect(redactDetail('Key (project_id, email)=(8c6e…, a@b.c) already exists.')).toBe(
      'Key (project_id, email)=(…) already exists.',
    )
    expect(redactDetail('Key (customer_id)=(42) is not present in table "customers".')).toBe(
      'Key (customer_id)=(…) is not present in table "customers".',
    )
    expect(redactDetail('Failing row contains (1, secret, null).')).toBe(
      'Failing row contains (…).',
    )
    const deadlock =
      'Process 1 waits for ShareLock on transaction 7; blocked by process 2.\nProcess 2 waits for ShareLock on transaction 6; blocked by process 1.'
    expect(redactDetail(deadlock)).toBe(deadlock)
    expect(redactDetail('Token "sk_live" is invalid.')).toBeUndefined()
  })
})
