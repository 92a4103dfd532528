import { readFile } from 'node:fs/promises'
import { checkPackage, createPackageFromTarballData, type Package } from '@arethetypeswrong/core'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import type { PublishedName } from './pack.ts'

/**
 * Budgets for the bundled `.d.ts` (bytes): measured, plus about 20 %. An API change that grows
 * them is fine on purpose: raise the number in the same commit. A jump usually means a type
 * started dragging in something it should not (zod's or the server's internals).
 */
const DTS_BUDGET: Record<PublishedName, number> = {
  client: 64_000,
  telegraf: 24_000,
  grammy: 24_000,
}

/** What each package may import at run time and in its types; nothing server-side. */
const ALLOWED_IMPORTS: Record<PublishedName, string[]> = {
  client: ['@trpc/client', '@trpc/server'],
  telegraf: ['@e-stars/client', 'telegraf', 'zod'],
  grammy: ['@e-stars/client', 'grammy', 'zod'],
}
const SERVER_ONLY =
  /drizzle|postgres|express|pglite|pino|@e-stars\/(api|billing|db|server|telegram|sandbox)/

const packs = inject('packs')
const tarballs: Partial<Record<PublishedName, { bytes: Uint8Array; pkg: Package }>> = {}

beforeAll(async () => {
  for (const name of ['client', 'telegraf', 'grammy'] as const) {
    const bytes = new Uint8Array(await readFile(packs.tarballs[name]))
    tarballs[name] = { bytes, pkg: createPackageFromTarballData(bytes) }
  }
  console.info(
    `packed in ${packs.packSeconds.toFixed(1)} s:`,
    Object.entries(tarballs)
      .map(([name, t]) => {
        const dts = t?.pkg.readFile(`/node_modules/@e-stars/${name}/dist/index.d.ts`).length
        return `@e-stars/${name} ${t?.bytes.length} B packed, d.ts ${dts} B`
      })
      .join('; '),
  )
})

const tarball = (name: PublishedName) => {
  const t = tarballs[name]
  if (!t) throw new Error(`no tarball for ${name}`)
  return t
}
const file = (name: PublishedName, path: string) =>
  tarball(name).pkg.readFile(`/node_modules/@e-stars/${name}/${path}`)
const manifest = (name: PublishedName) => JSON.parse(file(name, 'package.json'))
/** Module specifiers of the static imports and re-exports of a bundled file. */
const importsOf = (code: string) =>
  [...code.matchAll(/^(?:import|export)\b[^'"]*?from\s+["']([^"']+)["']/gm)].map((m) => m[1])

describe.each(['client', 'telegraf', 'grammy'] as const)('the packed @e-stars/%s', (name) => {
  it('holds only the build, the manifest, the README, the license (and the changelog once released)', () => {
    const files = tarball(name)
      .pkg.listFiles()
      .map((f) => f.replace(`/node_modules/@e-stars/${name}/`, ''))
      .filter((f) => f !== 'CHANGELOG.md')
      .sort()
    expect(files).toEqual([
      'LICENSE',
      'README.md',
      'dist/index.d.ts',
      'dist/index.js',
      'package.json',
    ])
  })

  it('points its exports at dist, with no workspace-only specifiers left', () => {
    const pkg = manifest(name)
    expect(pkg.exports).toEqual({
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      './package.json': './package.json',
    })
    expect(pkg.private).toBeUndefined()
    const specifiers = JSON.stringify([pkg.dependencies, pkg.peerDependencies])
    expect(specifiers).not.toMatch(/workspace:|catalog:/)
    expect(Object.keys(pkg.dependencies ?? {}).join(' ')).not.toMatch(SERVER_ONLY)
    expect(pkg.peerDependencies).toHaveProperty('@trpc/client')
  })

  it('imports nothing but its dependencies and peers, at run time and in its types', () => {
    const allowed = ALLOWED_IMPORTS[name]
    for (const path of ['dist/index.js', 'dist/index.d.ts']) {
      const imports = importsOf(file(name, path))
      expect(imports.length).toBeGreaterThan(0)
      expect(imports.filter((i) => !allowed.includes(i as string))).toEqual([])
    }
    const pkg = manifest(name)
    const declared = [
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}),
    ]
    expect(allowed.filter((i) => !declared.includes(i))).toEqual([])
  })

  it('keeps its .d.ts within the size budget, with no `any` in it', () => {
    const dts = file(name, 'dist/index.d.ts')
    expect(dts.length).toBeLessThanOrEqual(DTS_BUDGET[name])
    const code = dts.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
    expect(code.match(/.*\bany\b.*/g) ?? []).toEqual([])
  })

  it('is publint clean (strict: warnings count as errors)', async () => {
    const { bytes } = tarball(name)
    const { messages, pkg } = await publint({
      pack: { tarball: bytes.slice().buffer },
      level: 'suggestion',
      strict: true,
    })
    expect(messages.map((m) => formatMessage(m, pkg, { color: false }))).toEqual([])
  })

  it('has types that resolve right for ESM consumers (are-the-types-wrong, node16 and bundler)', async () => {
    const result = await checkPackage(tarball(name).pkg)
    if (!result.types) throw new Error('attw found no types')
    // ESM only, as declared: CommonJS `require` and node10 resolution are out of scope.
    const problems = result.problems.filter(
      (p) => !('resolutionKind' in p) || ['node16-esm', 'bundler'].includes(p.resolutionKind),
    )
    expect(problems).toEqual([])
    for (const kind of ['node16-esm', 'bundler'] as const)
      expect(result.entrypoints['.']?.resolutions[kind].resolution?.fileName).toMatch(
        /dist\/index\.d\.ts$/,
      )
  })
})
