import { defineConfig } from 'vite'
import solid from 'vite-plugin-solid'

/** In development the console runs on Vite and forwards API calls to the server (`pnpm start`). */
const server = process.env.ESTARS_SERVER_URL ?? 'http://127.0.0.1:3000'

export default defineConfig({
  plugins: [solid()],
  server: {
    port: 5173,
    proxy: { '/trpc': server, '/console-api': server, '/healthz': server },
  },
  build: { target: 'es2022', sourcemap: true },
})
