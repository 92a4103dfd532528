import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import { type Database, migrationsFolder, openDatabase } from './client.ts'

/** True when tests run against a real PostgreSQL (`TEST_DATABASE_URL`), as CI does. */
export const onPostgres = Boolean(process.env.TEST_DATABASE_URL)

/**
 * A fresh, migrated database for one test file: a new PostgreSQL database cloned from a migrated
 * template when `TEST_DATABASE_URL` is set, otherwise an in-memory PGlite.
 */
export async function createTestDatabase(options: { poolSize?: number } = {}): Promise<Database> {
  const url = process.env.TEST_DATABASE_URL
  if (!url) return openDatabase({ dataDir: 'memory://' })
  const template = await ensureTemplate(url)
  const name = `estars_t_${randomBytes(6).toString('hex')}`
  const admin = postgres(url, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database ${name} template ${template}`)
  } finally {
    await admin.end({ timeout: 5 })
  }
  const target = new URL(url)
  target.pathname = `/${name}`
  const database = await openDatabase({ url: target.toString(), poolSize: options.poolSize ?? 20 })
  return {
    ...database,
    async close() {
      await database.close()
      const dropper = postgres(url, { max: 1, onnotice: () => {} })
      try {
        await dropper.unsafe(`drop database if exists ${name} with (force)`)
      } finally {
        await dropper.end({ timeout: 5 })
      }
    },
  }
}

let templateName: Promise<string> | undefined

function ensureTemplate(url: string): Promise<string> {
  templateName ??= (async () => {
    const digest = createHash('sha256')
    for (const file of readdirSync(migrationsFolder)
      .filter((f) => f.endsWith('.sql'))
      .sort()) {
      digest.update(readFileSync(join(migrationsFolder, file)))
    }
    const name = `estars_tmpl_${digest.digest('hex').slice(0, 12)}`
    const admin = postgres(url, { max: 1, onnotice: () => {} })
    try {
      await admin`select pg_advisory_lock(727211002)`
      const [exists] = await admin`select 1 from pg_database where datname = ${name}`
      if (!exists) {
        await admin.unsafe(`create database ${name}`)
        const target = new URL(url)
        target.pathname = `/${name}`
        const migrated = await openDatabase({ url: target.toString(), poolSize: 1 })
        await migrated.close()
      }
      await admin`select pg_advisory_unlock(727211002)`
    } finally {
      await admin.end({ timeout: 5 })
    }
    return name
  })()
  return templateName
}
