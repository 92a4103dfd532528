#!/usr/bin/env -S npx tsx
import { parseArgs } from 'node:util'
import { createSandbox, DEMO_BOT } from './sandbox.ts'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.SANDBOX_PORT ?? '8081' },
    host: { type: 'string', default: '127.0.0.1' },
  },
})
const port = Number(values.port)
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`[sandbox] bad --port ${values.port}`)
  process.exit(1)
}

const sandbox = await createSandbox({
  ...(process.env.SANDBOX_TOKEN ? { controlToken: process.env.SANDBOX_TOKEN } : {}),
  port,
  host: values.host,
  bots: [DEMO_BOT],
  users: [
    { id: 2_000_001, firstName: 'Alice', username: 'alice' },
    { id: 2_000_002, firstName: 'Bob', username: 'bob' },
  ],
})

console.log(`e-Stars Telegram sandbox (fake Bot API, no real Stars)
  apiRoot:   ${sandbox.apiRoot}
  bot token: ${DEMO_BOT.token}  (@${DEMO_BOT.username})
  users:     ${sandbox
    .users()
    .map((u) => `${u.id} ${u.first_name}`)
    .join(', ')}
  control:   ${sandbox.url}/sandbox/state  (authorization: Bearer ${sandbox.controlToken})`)

let stopping = false
const stop = (signal: string) => {
  if (stopping) return
  stopping = true
  console.log(`[sandbox] ${signal}: closing`)
  sandbox.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
