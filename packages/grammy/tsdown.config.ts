import { defineConfig } from '@e-stars/library-build'

// ESM + one bundled .d.ts. The framework-neutral core (packages/bot-core, private) and the Bot
// API helpers it uses (packages/telegram) are bundled in, with the Bot API types they name;
// @e-stars/client and zod are dependencies, grammy and @trpc/* peer dependencies.
export default defineConfig({
  entry: ['src/index.ts'],
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: true,
  fixedExtension: false,
  // `paths` point the bundled workspace package at its sources, so TypeScript emits its
  // declarations (through node_modules it would count as an external library).
  tsconfig: 'tsconfig.build.json',
  dts: true,
  deps: {
    alwaysBundle: [
      '@e-stars/bot-core',
      '@e-stars/bot-core/adapter',
      '@e-stars/telegram',
      '@grammyjs/types',
    ],
  },
})
