import { createContext, useContext } from 'solid-js'
import type { Account } from './account.ts'
import type { Product } from './api.ts'

export type Tone = 'info' | 'ok' | 'error'

/** What every screen shares: the account, the one action at a time, the notice, buying. */
export interface Shell {
  account: Account
  /** The product key or feature of the action under way, or null. */
  busy: () => string | null
  setBusy: (what: string | null) => void
  show: (text: string, tone?: Tone) => void
  /** Shows an error as a sentence for the user. */
  fail: (error: unknown) => void
  buy: (product: Product) => Promise<void>
}

export const ShellContext = createContext<Shell>()

export function useShell(): Shell {
  const shell = useContext(ShellContext)
  if (!shell) throw new Error('useShell outside <ShellContext.Provider>')
  return shell
}
