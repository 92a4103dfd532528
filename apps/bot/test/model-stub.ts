import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface StubAnswer {
  status: number
  body: unknown
  headers?: Record<string, string>
}

/**
 * An OpenAI-compatible chat-completions server on loopback: answers `reply` (or the next of
 * `queued`), and keeps every request it was sent, so a test can make the model slow, failing or
 * generous with tokens and see the `max_tokens` it was asked for.
 */
export async function startModelStub() {
  const stub = {
    url: '',
    reply: { status: 200, body: {} } as StubAnswer,
    /** Answers taken before `reply`, one per request (a 429, then the answer). */
    queued: [] as StubAnswer[],
    seen: [] as Array<{ auth: string | undefined; body: Record<string, unknown> }>,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    stub.seen.push({
      auth: req.headers.authorization,
      body: JSON.parse(Buffer.concat(chunks).toString()),
    })
    const answer = stub.queued.shift() ?? stub.reply
    res
      .writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
      .end(JSON.stringify(answer.body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  return stub
}

/** A chat completion with `content`, reporting `totalTokens` (split 10 / rest) unless null. */
export function completion(content: string, totalTokens: number | null = null): StubAnswer {
  return {
    status: 200,
    body: {
      model: 'stub-1',
      choices: [{ message: { role: 'assistant', content } }],
      ...(totalTokens === null
        ? {}
        : {
            usage: {
              prompt_tokens: 10,
              completion_tokens: totalTokens - 10,
              total_tokens: totalTokens,
            },
          }),
    },
  }
}
