export * from './endpoints.ts'
export * from './outbox.ts'
export * from './signing.ts'
