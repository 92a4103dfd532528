import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { TestProject } from 'vitest/node'

const run = promisify(execFile)

/** The published packages, packed once per run (`pnpm pack` builds them first: `prepack`). */
export const PUBLISHED = {
  client: fileURLToPath(new URL('..', import.meta.url)),
  telegraf: fileURLToPath(new URL('../../telegraf', import.meta.url)),
  grammy: fileURLToPath(new URL('../../grammy', import.meta.url)),
} as const
export type PublishedName = keyof typeof PUBLISHED

export interface Packs {
  dir: string
  /** Tarball paths by package. */
  tarballs: Record<PublishedName, string>
  /** Seconds `pnpm pack` took for all of them (builds included). */
  packSeconds: number
}

declare module 'vitest' {
  export interface ProvidedContext {
    packs: Packs
  }
}

export default async function packPublished(project: TestProject) {
  const dir = await mkdtemp(join(tmpdir(), 'estars-packs-'))
  const started = performance.now()
  // One after the other: the adapters' builds read the client's package, and the machine has 2 cores.
  for (const cwd of Object.values(PUBLISHED))
    await run('pnpm', ['pack', '--pack-destination', dir], { cwd, maxBuffer: 16 * 2 ** 20 })
  const files = await readdir(dir)
  const tarball = (name: PublishedName) => {
    const file = files.find((f) => f.startsWith(`e-stars-${name}-`) && f.endsWith('.tgz'))
    if (!file) throw new Error(`pnpm pack made no tarball for @e-stars/${name} in ${dir}`)
    return join(dir, file)
  }
  project.provide('packs', {
    dir,
    tarballs: {
      client: tarball('client'),
      telegraf: tarball('telegraf'),
      grammy: tarball('grammy'),
    },
    packSeconds: (performance.now() - started) / 1000,
  })
  return () => rm(dir, { recursive: true, force: true })
}
