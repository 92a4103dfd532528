import { existsSync } from 'node:fs'
import { defineConfig } from 'vitest/config'

// Browser suites need Debian's Chromium (never a downloaded one). CI installs it and must run
// them; on a machine without it they are skipped, and this line says so.
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const haveBrowser = existsSync(chromium)
if (!haveBrowser && process.env.CI)
  throw new Error(`CI needs Chromium at ${chromium} (apt-get install -y chromium)`)
if (!haveBrowser) {
  console.warn(
    `browser suites skipped: no Chromium at ${chromium} (apt-get install -y chromium, or set CHROMIUM_PATH)`,
  )
}

export default defineConfig({
  test: {
    include: haveBrowser ? ['test/**/*.test.ts'] : [],
    passWithNoTests: !haveBrowser,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})
