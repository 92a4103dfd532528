/** Telegram shows "typing…" for about 5 s per chat action; resend a little sooner. */
export const TYPING_EVERY_MS = 4000

/**
 * Shows "typing…" now and every 4 s until the returned stop() is called. Best effort: a failed
 * chat action (an old Bot API server, a blip) never fails the answer.
 */
export function keepTyping(
  sendTyping: () => Promise<unknown>,
  everyMs = TYPING_EVERY_MS,
): () => void {
  const send = () => void sendTyping().catch(() => undefined)
  send()
  const timer = setInterval(send, everyMs)
  return () => clearInterval(timer)
}
