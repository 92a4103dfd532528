import { openDatabase } from '@e-stars/db'
import { runAdminCommand, UsageError, usage, wantsJson } from './admin.ts'
import { readControlFile } from './control-file.ts'
import { ConfigError, parseEnv } from './env.ts'

async function main(argv: string[]) {
  if (argv.length === 0 || argv.includes('--help')) {
    console.log(usage)
    return
  }
  const env = parseEnv()
  const json = wantsJson(argv)
  const control = env.DATABASE_URL ? null : readControlFile(env.DATA_DIR)
  if (control) {
    // The server owns the embedded database: ask it to run the command.
    const response = await fetch(`${control.url}/admin/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-admin-token': control.token },
      body: JSON.stringify({ argv }),
    })
    const body = (await response.json()) as { json?: unknown; text?: string; error?: string }
    if (!response.ok) throw new UsageError(body.error ?? `server answered ${response.status}`)
    console.log(json ? JSON.stringify(body.json, null, 2) : body.text)
    return
  }
  const database = await openDatabase({ url: env.DATABASE_URL, dataDir: env.DATA_DIR, poolSize: 2 })
  try {
    const result = await runAdminCommand(database.db, argv)
    console.log(json ? JSON.stringify(result.json, null, 2) : result.text)
  } finally {
    await database.close()
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const known = error instanceof UsageError || error instanceof ConfigError
  console.error(
    known || (error instanceof Error && error.name !== 'Error') ? (error as Error).message : error,
  )
  process.exitCode = 1
})
