export * from './ledger.ts'
export * from './projects.ts'
