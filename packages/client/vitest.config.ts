import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Packs @e-stars/client and @e-stars/telegraf once for the packaging and consumer tests.
    globalSetup: ['test/pack.ts'],
  },
})
