import { defineConfig } from '@e-stars/library-build'

// ESM + one bundled .d.ts. The server's client code and its types (packages/api, the engine's
// result interfaces) are bundled in; @trpc/* stay imports, as peer dependencies.
export default defineConfig({
  entry: ['src/index.ts'],
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  outDir: 'dist',
  clean: true,
  fixedExtension: false,
  // `paths` point the workspace packages at their sources, so TypeScript emits their
  // declarations (through node_modules they would count as external libraries).
  tsconfig: 'tsconfig.build.json',
  dts: true,
  deps: { alwaysBundle: [/^@e-stars\//] },
})
