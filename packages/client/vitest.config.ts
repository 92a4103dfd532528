import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Packs @e-stars/client, @e-stars/telegraf and @e-stars/grammy once for the packaging and consumer tests.
    globalSetup: ['test/pack.ts'],
  },
})
