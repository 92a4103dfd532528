export {
  BackupError,
  type BackupSummary,
  backupPglite,
  readBackup,
  restorePglite,
} from './backup.ts'
export {
  type Database,
  type DatabaseOptions,
  type Db,
  type Executor,
  migrationsFolder,
  openDatabase,
  rows,
  type Schema,
  type Tx,
} from './client.ts'
export {
  causeChain,
  isDatabaseUnavailable,
  redactDetail,
  serializeError,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
} from './errors.ts'
export * from './schema/index.ts'
