import { BackupError, backupPglite, openDatabase, restorePglite } from '@e-stars/db'
import {
  AdminCommandError,
  parseAdminCommand,
  runAdminCommand,
  UsageError,
  usage,
  wantsJson,
} from './admin.ts'
import { readControlFile } from './control-file.ts'
import { ConfigError, parseEnv } from './env.ts'
import {
  assertDataDirUsable,
  databaseUrlProblem,
  restrictNewFiles,
  tightenDataDir,
} from './first-start.ts'
import { describeError } from './logger.ts'
import { rotateStoredSecrets } from './rotate-secrets.ts'
import { loadSecrets } from './secret-key.ts'

/**
 * `pnpm cli backup <file>` and `pnpm cli restore <file> [--replace]` for the embedded database
 * (DATA_DIR). With DATABASE_URL use pg_dump / pg_restore (docs/deploy.md).
 */
async function backupCommand(argv: string[]) {
  const [verb, file, ...rest] = argv
  const replace = rest.includes('--replace')
  if (
    !file ||
    file.startsWith('--') ||
    rest.some((a) => a !== '--replace') ||
    (verb === 'backup' && replace)
  )
    throw new UsageError('Usage: pnpm cli backup <file>  |  pnpm cli restore <file> [--replace]')
  const env = parseEnv()
  if (env.DATABASE_URL)
    throw new ConfigError(
      `${verb}: DATABASE_URL is set; back up PostgreSQL with pg_dump and restore with pg_restore (docs/deploy.md)`,
    )
  restrictNewFiles()
  // PGlite is one process: while the server runs, the files on disk are not a consistent copy.
  if (readControlFile(env.DATA_DIR))
    throw new ConfigError(
      `${verb}: the server is running on ${env.DATA_DIR}; stop it first (the embedded database is one process, a copy taken beside it is not consistent)`,
    )
  try {
    if (verb === 'backup') {
      const done = await backupPglite(env.DATA_DIR, file)
      console.log(
        `Backed up ${env.DATA_DIR} to ${file} (${done.bytes} bytes, sha256 ${done.sha256.slice(0, 12)}…). ` +
          'It contains secret.key: keep it as private as the data.',
      )
    } else {
      const done = await restorePglite(file, env.DATA_DIR, { replace })
      tightenDataDir(env.DATA_DIR)
      console.log(
        `Restored ${file} into ${env.DATA_DIR}.${done.keptAs ? ` The previous directory is kept as ${done.keptAs}.` : ''}`,
      )
    }
  } catch (error) {
    if (error instanceof BackupError) throw new ConfigError(`${verb}: ${error.message}`)
    throw error
  }
}

/** The commands this file runs itself (they need no admin command on the server). */
const MORE_USAGE = `
  backup <file>               back up the embedded database (DATA_DIR); stop the server first
  restore <file> [--replace]  restore one into an empty DATA_DIR (--replace keeps the old beside it)
  secrets rotate              re-encrypt stored secrets with SECRET_KEY (SECRET_KEY_PREVIOUS = the old key)`

const quiet = { info() {}, warn() {}, error() {} }

/**
 * `pnpm cli secrets rotate`: with SECRET_KEY set to the new key and SECRET_KEY_PREVIOUS to the
 * old one, re-encrypts every stored bot token and webhook secret with the new key.
 */
async function secretsCommand(argv: string[]) {
  if (argv[0] !== 'rotate' || argv.length > 1)
    throw new UsageError(
      'Usage: pnpm cli secrets rotate   (SECRET_KEY=new SECRET_KEY_PREVIOUS=old)',
    )
  const env = parseEnv()
  if (!env.SECRET_KEY || !env.SECRET_KEY_PREVIOUS)
    throw new ConfigError(
      'secrets rotate: set SECRET_KEY to the new key and SECRET_KEY_PREVIOUS to the old one',
    )
  const secrets = loadSecrets(env, quiet)
  restrictNewFiles()
  if (!env.DATABASE_URL) {
    assertDataDirUsable(env.DATA_DIR, { sharedWithServer: true })
    if (readControlFile(env.DATA_DIR))
      throw new ConfigError(
        'secrets rotate: the server holds the embedded database; stop it, rotate, then start it with the new keys',
      )
  }
  const database = await openDatabase({ url: env.DATABASE_URL, dataDir: env.DATA_DIR, poolSize: 2 })
  try {
    const done = await rotateStoredSecrets(database.db, secrets)
    console.log(
      `Re-encrypted ${done.botTokens} bot token(s) and ${done.webhookSecrets} webhook secret(s) with SECRET_KEY. ` +
        'Keep SECRET_KEY_PREVIOUS until invoices issued before the switch have expired.',
    )
  } finally {
    await database.close()
    if (!env.DATABASE_URL) tightenDataDir(env.DATA_DIR)
  }
}

async function main(argv: string[]) {
  if (argv.length === 0 || argv.includes('--help')) {
    console.log(usage)
    console.log(MORE_USAGE)
    return
  }
  if (argv[0] === 'secrets') return secretsCommand(argv.slice(1))
  if (argv[0] === 'backup' || argv[0] === 'restore') return backupCommand(argv)
  // Bad arguments are refused before anything is opened.
  const command = parseAdminCommand(argv)
  const env = parseEnv()
  const json = wantsJson(argv)
  restrictNewFiles()
  if (!env.DATABASE_URL) assertDataDirUsable(env.DATA_DIR, { sharedWithServer: true })
  const control = env.DATABASE_URL ? null : readControlFile(env.DATA_DIR)
  if (control) {
    // The server owns the embedded database: ask it to run the command.
    const response = await fetch(`${control.url}/admin/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-admin-token': control.token },
      body: JSON.stringify({ argv }),
    })
    const body = (await response.json()) as {
      json?: unknown
      text?: string
      error?: string
      exitCode?: number
    }
    if (!response.ok)
      throw new AdminCommandError(body.error ?? `server answered ${response.status}`)
    console.log(json ? JSON.stringify(body.json, null, 2) : body.text)
    process.exitCode = body.exitCode ?? 0
    return
  }
  const database = await openDatabase({
    url: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    poolSize: 2,
  }).catch((error: unknown) => {
    throw (env.DATABASE_URL && databaseUrlProblem(error, env.DATABASE_URL)) || error
  })
  try {
    const result = await runAdminCommand(database.db, argv, command)
    console.log(json ? JSON.stringify(result.json, null, 2) : result.text)
    process.exitCode = result.exitCode ?? 0
  } finally {
    await database.close()
    // PGlite sets the modes of the files it made (0666); the CLI leaves none open to others.
    if (!env.DATABASE_URL) tightenDataDir(env.DATA_DIR)
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // A usage error carries the usage text; everything else is one line, never SQL or parameters.
  if (error instanceof UsageError) console.error(error.message)
  else if (error instanceof AdminCommandError || error instanceof ConfigError)
    console.error(error.message.replace(/\s*\n\s*/g, ' '))
  else console.error(`The command failed: ${describeError(error)}`)
  process.exitCode = 1
})
