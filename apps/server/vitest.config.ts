import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

/**
 * Files that start processes or PostgreSQL clusters of their own, load the machine themselves
 * and judge what they see by the clock (recovery within 2 s, a refusal within 15 s, a latency
 * measurement): they run one at a time, after the rest.
 */
const alone = [
  'test/outage.test.ts',
  'test/outage-http.test.ts',
  'test/outage-last-resort.test.ts',
  'test/startup-failures.test.ts',
  'test/precheck-latency.test.ts',
  'test/first-start.test.ts',
  'test/data-dir-modes.test.ts',
  'test/drain.test.ts',
  'test/start-port.test.ts',
  'test/python-client.test.ts',
  'test/operator-reset-password.test.ts',
  'test/ledger-verify.test.ts',
  'test/production-build.test.ts',
  'test/attack/**/*.test.ts',
]

export default defineConfig({
  test: {
    // Bounds for a hang, not a latency target: a suite that starts servers on a fresh embedded
    // database takes minutes on a busy 2-core machine (the PGlite run of `pnpm test`).
    testTimeout: 180_000,
    hookTimeout: 180_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'server',
          exclude: ['**/node_modules/**', ...alone],
          // The longest suite; its files share nothing (a database, a port and a temp dir of
          // their own each), so two run at once even on 2 cores, where vitest's default is one.
          maxWorkers: Math.max(2, availableParallelism() - 1),
        },
      },
      {
        extends: true,
        test: {
          name: 'server (one at a time)',
          include: alone,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
