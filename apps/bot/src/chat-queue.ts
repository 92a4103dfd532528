/**
 * Updates of one chat run one after another, in the order they came; different chats run at
 * the same time. Telegraf's polling waits for a whole batch of updates before it fetches the
 * next, and a webhook holds Telegram's request until its handler ends: handing the work to this
 * queue ends both at once, so one slow model call stalls nobody else.
 */
export class ChatQueue {
  readonly #tails = new Map<string, Promise<void>>()
  readonly #pending = new Map<string, number>()

  /** Runs `task` after the chat's earlier tasks; resolves or rejects with it. */
  run<T>(chat: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(chat) ?? Promise.resolve()
    this.#pending.set(chat, this.pending(chat) + 1)
    const result = previous.then(task)
    const tail = result.then(
      () => undefined,
      () => undefined,
    )
    this.#tails.set(chat, tail)
    void tail.then(() => {
      const left = this.pending(chat) - 1
      if (left > 0) this.#pending.set(chat, left)
      else this.#pending.delete(chat)
      if (this.#tails.get(chat) === tail) this.#tails.delete(chat)
    })
    return result
  }

  /** Tasks of `chat` queued or running. */
  pending(chat: string): number {
    return this.#pending.get(chat) ?? 0
  }

  /** Chats with work queued or running. */
  get busy(): number {
    return this.#tails.size
  }

  /** Resolves when everything queued so far has run (graceful shutdown). */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values())
  }
}
