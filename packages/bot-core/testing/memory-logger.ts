import type { Logger } from '../src/index.ts'

export interface LogLine {
  level: 'info' | 'warn' | 'error'
  obj: Record<string, unknown>
  msg: string | undefined
}

/** A logger that keeps what it was told, for assertions on what the core logged. */
export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  const at = (level: LogLine['level']) => (obj: object, msg?: string) => {
    lines.push({ level, obj: obj as Record<string, unknown>, msg })
  }
  return { lines, info: at('info'), warn: at('warn'), error: at('error') }
}
