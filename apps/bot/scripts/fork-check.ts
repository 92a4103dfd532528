/**
 * The README's "make it yours" steps, tested: copy the bot, change one pack's price in
 * src/catalog.ts and one sentence in src/wording.ts, as a developer forking it would, and run
 * the copy's tests. They must pass: the tests read the catalog and the words from those files.
 *
 *   pnpm -F @e-stars/bot fork-check        (also the last step of `pnpm -F @e-stars/bot test`)
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const bot = resolve(import.meta.dirname, '..')
const fork = mkdtempSync(join(tmpdir(), 'estars-bot-fork-'))

/** Rewrites `file` in the fork with `edit`; a change that changes nothing is a broken check. */
function change(file: string, edit: (text: string) => string, what: string) {
  const path = join(fork, file)
  const before = readFileSync(path, 'utf8')
  const after = edit(before)
  if (after === before) throw new Error(`fork-check: could not ${what} in ${file}`)
  writeFileSync(path, after)
  console.log(`fork-check: ${what} (${file})`)
}

try {
  for (const part of ['src', 'test', 'package.json', 'tsconfig.json', 'vitest.config.ts'])
    cpSync(join(bot, part), join(fork, part), { recursive: true })
  // The fork uses the installed dependencies as they are (nothing downloads).
  symlinkSync(join(bot, 'node_modules'), join(fork, 'node_modules'), 'dir')

  change(
    'src/catalog.ts',
    (text) => text.replace(/priceStars: (\d+)/, (_, stars) => `priceStars: ${Number(stars) + 25}`),
    'raise the first pack’s price by 25 Stars',
  )
  change(
    'src/wording.ts',
    (text) =>
      text.replace(
        'I am an AI assistant that runs on credits',
        'I am your AI helper, run on credits',
      ),
    'reword the welcome',
  )

  const run = spawnSync(process.execPath, [join(bot, 'node_modules/vitest/vitest.mjs'), 'run'], {
    cwd: fork,
    stdio: 'inherit',
    env: { ...process.env, FORCE_COLOR: '0' },
  })
  if (run.status !== 0) {
    console.error('fork-check: the forked bot’s tests failed')
    process.exitCode = 1
  } else console.log('fork-check: the forked bot’s tests pass')
} finally {
  rmSync(fork, { recursive: true, force: true })
}
