import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { StarsState } from './stars.ts'
import type { User } from './types.ts'
import type { World } from './world.ts'

/** The journal file: each bot's Stars (by bot id, never by token) and the users who paid. */
interface StarsJournalFile {
  version: 1
  bots: Record<string, StarsState>
  users: User[]
}

/**
 * Keeps the bots' Stars ledgers in `path` across restarts, as Telegram's own ledger outlives
 * any client: restores what the file holds into the bots created at start, then rewrites it
 * after every change, before the bot hears of the change (a write, then a rename: never half a
 * file). A file that cannot be read stops the start: forgetting it would make every earlier
 * payment look unknown to Telegram.
 */
export function keepStarsJournal(world: World, path: string): void {
  const kept = readJournal(path)
  if (kept) {
    for (const user of kept.users) if (!world.users.has(user.id)) world.users.set(user.id, user)
    for (const bot of world.bots.values()) {
      const state = kept.bots[String(bot.user.id)]
      if (state) bot.stars.restore(state)
    }
  }
  const write = () => writeJournal(path, world)
  for (const bot of world.bots.values()) bot.stars.onChange = write
}

function readJournal(path: string): StarsJournalFile | null {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  try {
    const file = JSON.parse(text) as StarsJournalFile
    if (file.version !== 1 || typeof file.bots !== 'object' || !Array.isArray(file.users))
      throw new Error('not a version 1 journal')
    return file
  } catch (error) {
    throw new Error(
      `The sandbox's Stars journal ${path} is unreadable (${(error as Error).message}); move it away to start with an empty Telegram ledger`,
    )
  }
}

function writeJournal(path: string, world: World): void {
  const bots: Record<string, StarsState> = {}
  const payers = new Map<number, User>()
  for (const bot of world.bots.values()) {
    const state = bot.stars.state()
    bots[String(bot.user.id)] = state
    for (const charge of state.charges) payers.set(charge.user.id, charge.user)
  }
  const file: StarsJournalFile = { version: 1, bots, users: [...payers.values()] }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  writeFileSync(`${path}.tmp`, JSON.stringify(file), { mode: 0o600 })
  renameSync(`${path}.tmp`, path)
}
