/**
 * Real server processes (`tsx src/main.ts`) for the start-up suites: what a supervisor sees —
 * exit code, stdout, stderr — rather than what an in-process call returns.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/postgres-js'

const serverDir = fileURLToPath(new URL('..', import.meta.url))
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url))

export interface ServerProcess {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves with the URL once the server says it is up; rejects when it exits first. */
  up: Promise<string>
  /** Resolves with the exit code (or the signal) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stop(): Promise<void>
}

/**
 * Starts `tsx src/main.ts` with exactly `env` (plus PATH and HOME), never the caller's settings.
 * `direct`: `node --import tsx src/main.ts` instead, one process, so a signal reaches the server
 * itself as it does under a supervisor. (The `tsx` launcher relays SIGTERM and, when the child
 * does not acknowledge within about 60 ms, a busy event loop under load, SIGKILLs it and exits
 * 143: a drain test must not go through it.)
 */
export function spawnServer(
  env: Record<string, string>,
  entry = process.env.SERVER_ENTRY ?? 'src/main.ts',
  options: { direct?: boolean } = {},
): ServerProcess {
  const [command, args] = options.direct
    ? [process.execPath, ['--import', 'tsx', entry]]
    : [tsx, [entry]]
  const child = spawn(command, args, {
    cwd: serverDir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const up = new Promise<string>((resolve, reject) => {
    const look = () => {
      const match = /e-Stars is up: (http:\/\/\S+)/.exec(out)
      if (match) resolve(match[1]!)
    }
    child.stdout!.on('data', look)
    void exited.then(({ code, signal }) =>
      reject(new Error(`server exited (${code ?? signal}) before it was up:\n${err || out}`)),
    )
  })
  up.catch(() => {})
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    up,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** One short-lived connection (drizzle's own postgres.js client: the server has no direct dependency). */
export async function withConnection<T>(
  url: string,
  run: (db: ReturnType<typeof drizzle>) => Promise<T>,
): Promise<T> {
  const db = drizzle({ connection: { url, max: 1, onnotice: () => {} } })
  try {
    return await run(db)
  } finally {
    await db.$client.end({ timeout: 5 })
  }
}

/** A fresh, empty database (no migrations) on the test PostgreSQL server; dropped by `drop()`. */
export async function createEmptyDatabase(baseUrl: string) {
  const name = `estars_fs_${randomBytes(6).toString('hex')}`
  await withConnection(baseUrl, (db) => db.execute(sql.raw(`create database ${name}`)))
  const target = new URL(baseUrl)
  target.pathname = `/${name}`
  return {
    name,
    url: target.toString(),
    drop: () =>
      withConnection(baseUrl, (db) =>
        db.execute(sql.raw(`drop database if exists ${name} with (force)`)),
      ),
  }
}

/** A key of the right shape for SECRET_KEY; random per run, never a real one. */
export const testSecretKey = () => randomBytes(32).toString('base64')

/** Runs `tsx src/cli.ts …args` to the end with exactly `env` (plus PATH and HOME). */
export async function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(tsx, ['src/cli.ts', ...args], {
    cwd: serverDir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  return { code, stdout, stderr }
}
