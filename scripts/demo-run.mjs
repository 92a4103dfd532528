#!/usr/bin/env node
// `pnpm start` / `pnpm dev` run the server and the reference bot side by side under turbo, which
// hands both the same environment. Before running turbo, this adds what the bot needs to follow
// the server it was started with:
// - ESTARS_DEMO_TOKEN, fresh for each run: the server's POST /demo/bootstrap answers only it, so
//   the bot never joins another e-Stars server that happens to listen on the same port;
// - ESTARS_URL from the server's own PORT and HOST (`PORT=31000 pnpm start`: the bot asks :31000),
//   and ESTARS_SERVER_URL, where the console's and the Mini App's Vite dev servers forward to.
// Any of them set by the caller is kept.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'

const env = { ...process.env }
env.ESTARS_DEMO_TOKEN ||= randomBytes(24).toString('base64url')
if (!env.ESTARS_URL) {
  const port = env.PORT || '3000'
  if (port === '0') {
    console.error(
      'PORT=0 picks a random port the bot cannot know: choose a port, or set ESTARS_URL',
    )
    process.exit(1)
  }
  const host = !env.HOST || ['0.0.0.0', '::'].includes(env.HOST) ? '127.0.0.1' : env.HOST
  env.ESTARS_URL = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

env.ESTARS_SERVER_URL ||= env.ESTARS_URL

const [command, ...args] = process.argv.slice(2)
if (!command) {
  console.error('usage: node scripts/demo-run.mjs <command> [args…]')
  process.exit(2)
}
const child = spawn(command, args, { stdio: 'inherit', env, shell: process.platform === 'win32' })
// Ctrl-C reaches turbo from the terminal itself; a SIGTERM sent to this process alone is passed on.
process.on('SIGINT', () => {})
process.on('SIGTERM', () => child.kill('SIGTERM'))
child.on('error', (error) => {
  console.error(`could not run ${command}: ${error.message}`)
  process.exit(1)
})
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
