import { cpSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'tsdown'

/**
 * `pnpm build`: the server and its CLI as plain JavaScript in `dist/`, so production runs
 * `node dist/main.js` with no TypeScript loader. The workspace packages (`@e-stars/*`, which
 * export TypeScript sources) are bundled in; every other package stays an import that Node
 * resolves from `node_modules` at run time (PGlite finds its own wasm and data files there).
 *
 * Files the bundled code finds next to itself through `import.meta.url` are copied beside it:
 * - `packages/db/drizzle` → `dist/drizzle` (the migrations; `client.ts`'s `../drizzle` is
 *   rewritten to `./drizzle`, since the bundle is one level up from where that source lives);
 * - the sandbox's `telegram-web-app.js` → `dist/` (demo mode's Mini App host page).
 * The console and Mini App are found at `../../console/dist`, which `dist/` resolves exactly as
 * `src/` does.
 */
const from = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  entry: { main: 'src/main.ts', cli: 'src/cli.ts' },
  outDir: 'dist',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  dts: false,
  clean: true,
  sourcemap: true,
  // Only the workspace's own packages go into the bundle; a node_modules package bundled by
  // accident fails the build (it would run a second copy beside the one Node resolves).
  deps: { alwaysBundle: [/^@e-stars\//], onlyBundle: [] },
  plugins: [
    {
      name: 'e-stars-migrations-beside-bundle',
      transform: {
        filter: { id: /packages[\\/]db[\\/]src[\\/]client\.ts$/ },
        handler(code: string) {
          const rewritten = code.replace(
            "new URL('../drizzle', import.meta.url)",
            "new URL('./drizzle', import.meta.url)",
          )
          if (rewritten === code)
            throw new Error('packages/db/src/client.ts: migrations URL not found')
          return rewritten
        },
      },
    },
  ],
  hooks: {
    'build:done'() {
      cpSync(from('../../packages/db/drizzle'), from('./dist/drizzle'), { recursive: true })
      cpSync(
        from('../../packages/sandbox/src/telegram-web-app.js'),
        from('./dist/telegram-web-app.js'),
      )
    },
  },
})
