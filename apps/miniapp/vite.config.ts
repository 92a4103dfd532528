import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { defineConfig, type Plugin } from 'vite'
import solid from 'vite-plugin-solid'

/** In development the Mini App runs on Vite and forwards API calls to the server (`pnpm start`). */
const server = process.env.ESTARS_SERVER_URL ?? 'http://127.0.0.1:3000'

/**
 * Ships the sandbox's telegram-web-app.js stand-in next to the app as a fixed, same-origin file.
 * The app loads it only inside the sandbox host (`tgWebAppPlatform=sandbox`), never a script
 * whose address comes from the URL.
 */
function sandboxStandIn(): Plugin {
  const source = () =>
    readFileSync(
      createRequire(import.meta.url).resolve('@e-stars/sandbox/telegram-web-app.js'),
      'utf8',
    )
  return {
    name: 'telegram-web-app-sandbox',
    configureServer(dev) {
      dev.middlewares.use('/telegram-web-app.sandbox.js', (_req, res) => {
        res.setHeader('content-type', 'text/javascript')
        res.end(source())
      })
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: 'telegram-web-app.sandbox.js', source: source() })
    },
  }
}

export default defineConfig({
  // Relative asset paths: the same build works at /miniapp/ on the e-Stars server or at any root.
  base: './',
  plugins: [solid(), sandboxStandIn()],
  server: { port: 5174, proxy: { '/trpc': server } },
  build: { target: 'es2022', sourcemap: true },
})
