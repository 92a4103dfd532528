/**
 * Updates of one chat run one after another, in the order they came; different chats run at
 * the same time. Telegraf's polling waits for a whole batch of updates before it fetches the
 * next, and a webhook holds Telegram's request until its handler ends: handing the work to this
 * queue ends both at once, so one slow model call stalls nobody else.
 */
export class ChatQueue {
  readonly #tails = new Map<string, Promise<void>>()

  /** Runs `task` after the chat's earlier tasks; resolves or rejects with it. */
  run<T>(chat: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(chat) ?? Promise.resolve()
    const result = previous.then(task)
    const tail = result.then(
      () => undefined,
      () => undefined,
    )
    this.#tails.set(chat, tail)
    void tail.then(() => {
      if (this.#tails.get(chat) === tail) this.#tails.delete(chat)
    })
    return result
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
