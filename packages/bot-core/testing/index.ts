// Test helpers of the adapters (never bundled): faults to put in front of e-Stars, and the
// scenarios every adapter's test runs.
export * from './faults.ts'
export * from './memory-logger.ts'
export * from './readme.ts'
export * from './scenarios.ts'
