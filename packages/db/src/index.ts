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
export * from './schema/index.ts'
