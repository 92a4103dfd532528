import { readFileSync } from 'node:fs'
import { readmeSnippet } from '@e-stars/bot-core/testing'
import { describe, expect, it } from 'vitest'

const example = readFileSync(new URL('../examples/existing-bot.ts', import.meta.url), 'utf8')

describe('the README', () => {
  it('shows the grammY example exactly as the file tsc checks (examples/existing-bot.ts)', () => {
    expect(readmeSnippet('Add e-Stars to a grammY bot')).toBe(example)
  })
})
