import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * PGlite is one process. While the server holds the data directory, the CLI hands its command
 * to the server over loopback instead of opening the files itself. This file says where the
 * server is and carries a random token readable only by the same user.
 */
export interface ControlFile {
  pid: number
  url: string
  token: string
}

const path = (dataDir: string) => join(dataDir, 'server.json')

export function writeControlFile(dataDir: string, url: string): ControlFile {
  const control = { pid: process.pid, url, token: randomBytes(24).toString('base64url') }
  writeFileSync(path(dataDir), JSON.stringify(control), { mode: 0o600 })
  return control
}

export function removeControlFile(dataDir: string) {
  rmSync(path(dataDir), { force: true })
}

/** The running server's control file, or null when no live server owns the directory. */
export function readControlFile(dataDir: string): ControlFile | null {
  try {
    const control = JSON.parse(readFileSync(path(dataDir), 'utf8')) as ControlFile
    process.kill(control.pid, 0)
    return control
  } catch {
    return null
  }
}

export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (!presented) return false
  const a = Buffer.from(expected)
  const b = Buffer.from(presented)
  return a.length === b.length && timingSafeEqual(a, b)
}
