/**
 * Everything the sandbox hands a bot — each Bot API result and each update posted to a webhook —
 * can be watched, so a test suite can check all of it against the Bot API spec (see
 * test/conformance.ts). Listeners run synchronously and must not change what they are given.
 */
export type Emitted =
  | { kind: 'result'; method: string; value: unknown }
  | { kind: 'update'; value: unknown }

const listeners = new Set<(emitted: Emitted) => void>()

/** Calls `listener` with every object the sandbox emits from now on; returns the unsubscribe. */
export function observeEmitted(listener: (emitted: Emitted) => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

export function emit(emitted: Emitted): void {
  for (const listener of listeners) listener(emitted)
}
