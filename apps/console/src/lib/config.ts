import { query } from '@solidjs/router'

/** What the server offers beyond the API (the sandbox page when it runs against the emulator). */
export const consoleConfig = query(async (): Promise<{ sandbox: boolean }> => {
  const response = await fetch('/console-api/config', { credentials: 'include' })
  if (!response.ok) return { sandbox: false }
  return (await response.json()) as { sandbox: boolean }
}, 'console-config')
