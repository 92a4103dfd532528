import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'

/**
 * Backups of the embedded database (PGlite's data directory, `DATA_DIR`): PGlite's own dump, a
 * gzipped tar of the directory (its `secret.key` included), behind one header line that carries
 * the tar's length and SHA-256, so a truncated or altered file is refused before anything is
 * touched. The database must be closed while it is dumped: PGlite is one process, so a copy made
 * from outside a running server is not consistent (the server's own process would have to dump
 * it; `pnpm cli backup` refuses while the server runs and says so).
 */
const MAGIC = 'e-stars-pglite-backup'
const VERSION = '1'

export class BackupError extends Error {
  override readonly name = 'BackupError'
}

export interface BackupSummary {
  bytes: number
  sha256: string
}

/** Files that belong to a running server, never restored (a stale one would confuse the CLI). */
const NOT_RESTORED = ['server.json']

export async function backupPglite(dataDir: string, file: string): Promise<BackupSummary> {
  if (!existsSync(join(dataDir, 'PG_VERSION')))
    throw new BackupError(`${dataDir} holds no embedded database (no PG_VERSION)`)
  const client = await PGlite.create(dataDir)
  let tarball: Uint8Array
  try {
    // A checkpoint first: the dump then needs no WAL replay to be complete.
    await client.exec('checkpoint')
    tarball = new Uint8Array(await (await client.dumpDataDir('gzip')).arrayBuffer())
  } finally {
    await client.close()
  }
  const sha256 = createHash('sha256').update(tarball).digest('hex')
  const header = Buffer.from(`${MAGIC} ${VERSION} ${tarball.length} ${sha256}\n`)
  // Written beside the target and renamed: a crash mid-write never leaves a half backup there.
  const partial = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.part`)
  writeFileSync(partial, Buffer.concat([header, tarball]), { mode: 0o600, flag: 'wx' })
  renameSync(partial, file)
  return { bytes: tarball.length, sha256 }
}

/** The tarball inside a backup file, or a `BackupError` saying what is wrong with the file. */
export function readBackup(file: string): Uint8Array {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (error) {
    throw new BackupError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`)
  }
  const newline = bytes.indexOf(0x0a)
  const header = bytes
    .subarray(0, newline === -1 ? Math.min(bytes.length, 200) : newline)
    .toString('latin1')
  const [magic, version, length, sha256] = header.split(' ')
  if (newline === -1 || magic !== MAGIC)
    throw new BackupError(`${file} is not an e-Stars backup (made by pnpm cli backup)`)
  if (version !== VERSION)
    throw new BackupError(`${file} is a backup of format ${version}, not ${VERSION}`)
  const tarball = bytes.subarray(newline + 1)
  if (tarball.length !== Number(length))
    throw new BackupError(
      `${file} is truncated or corrupt: ${tarball.length} of ${length} bytes after the header`,
    )
  if (createHash('sha256').update(tarball).digest('hex') !== sha256)
    throw new BackupError(`${file} is corrupt: its checksum does not match`)
  return new Uint8Array(tarball)
}

const isEmptyDir = (dir: string) => !existsSync(dir) || readdirSync(dir).length === 0

/**
 * Restores a backup into `dataDir`. Refuses a directory with anything in it unless `replace`;
 * then the old directory is kept beside it (`<dir>.before-restore-<time>`), never deleted. The
 * backup is checked, loaded into a fresh directory beside the target and opened there first;
 * only a restore that opened is moved into place, so a bad backup leaves the target untouched.
 */
export async function restorePglite(
  file: string,
  dataDir: string,
  options: { replace?: boolean } = {},
): Promise<{ keptAs: string | null }> {
  if (!isEmptyDir(dataDir) && !options.replace)
    throw new BackupError(
      `${dataDir} is not empty: restore into an empty directory, or pass --replace (the current one is kept beside it)`,
    )
  const tarball = readBackup(file)
  const staging = `${dataDir.replace(/\/+$/, '')}.restoring-${randomBytes(4).toString('hex')}`
  try {
    const client = await PGlite.create(staging, {
      loadDataDir: new Blob([tarball as Uint8Array<ArrayBuffer>]),
    })
    try {
      await client.query('select count(*) from projects')
    } finally {
      await client.close()
    }
  } catch (error) {
    rmSync(staging, { recursive: true, force: true })
    throw new BackupError(`${file} could not be restored: ${(error as Error).message}`)
  }
  for (const name of NOT_RESTORED) rmSync(join(staging, name), { force: true })
  let keptAs: string | null = null
  if (existsSync(dataDir)) {
    if (isEmptyDir(dataDir)) rmSync(dataDir, { recursive: true })
    else {
      keptAs = `${dataDir.replace(/\/+$/, '')}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`
      renameSync(dataDir, keptAs)
    }
  }
  renameSync(staging, dataDir)
  return { keptAs }
}
