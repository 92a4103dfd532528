import { afterEach, describe, expect, it, vi } from 'vitest'
import { ChatQueue } from '../src/chat-queue.ts'
import { keepTyping, TYPING_EVERY_MS } from '../src/typing.ts'

describe('the per-chat queue', () => {
  it('runs one chat’s tasks in order and other chats alongside; a failure does not stop the chat', async () => {
    const queue = new ChatQueue()
    const log: string[] = []
    let release = () => {}
    const slow = new Promise<void>((resolve) => {
      release = resolve
    })
    const a1 = queue.run('a', async () => {
      await slow
      log.push('a1')
    })
    const a2 = queue.run('a', async () => {
      log.push('a2')
      throw new Error('a2 failed')
    })
    const a3 = queue.run('a', async () => log.push('a3'))
    expect(queue.pending('a')).toBe(3)
    await queue.run('b', async () => log.push('b1'))
    expect(log).toEqual(['b1'])
    release()
    await a1
    await expect(a2).rejects.toThrow('a2 failed')
    await a3
    expect(log).toEqual(['b1', 'a1', 'a2', 'a3'])
    await queue.idle()
    expect(queue.busy).toBe(0)
    expect(queue.pending('a')).toBe(0)
  })
})

describe('typing…', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('is sent at once and every 4 s until stopped; a failed chat action is ignored', async () => {
    vi.useFakeTimers()
    let sent = 0
    const stop = keepTyping(() => {
      sent += 1
      return sent === 2 ? Promise.reject(new Error('404')) : Promise.resolve(true)
    })
    expect(sent).toBe(1)
    await vi.advanceTimersByTimeAsync(TYPING_EVERY_MS * 3)
    expect(sent).toBe(4)
    stop()
    await vi.advanceTimersByTimeAsync(TYPING_EVERY_MS * 3)
    expect(sent).toBe(4)
  })
})
