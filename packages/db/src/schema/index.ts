export * from './access.ts'
export * from './ledger.ts'
export * from './payments.ts'
export * from './projects.ts'
