import { readFileSync } from 'node:fs'

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')

/** The first ```ts block under a `## ` heading of the root README. */
export function readmeSnippet(heading: string): string | undefined {
  const section = readme.split(/^## /m).find((s) => s.startsWith(heading))
  return section && /```ts\n([\s\S]*?)```/.exec(section)?.[1]
}
