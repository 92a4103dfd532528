import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
const example = readFileSync(new URL('../examples/existing-bot.ts', import.meta.url), 'utf8')

/** The first ```ts block after a heading. */
function snippetUnder(heading: string): string | undefined {
  const section = readme.split(/^## /m).find((s) => s.startsWith(heading))
  return section && /```ts\n([\s\S]*?)```/.exec(section)?.[1]
}

describe('the README', () => {
  it('shows the existing-bot example exactly as the file tsc checks (examples/existing-bot.ts)', () => {
    expect(snippetUnder('Add e-Stars to an existing bot')).toBe(example)
  })
})
