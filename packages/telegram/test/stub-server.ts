import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  path: string
  method: string
  token: string
  body: Record<string, unknown>
  contentType: string | undefined
}

export type StubReply =
  | { json: unknown; status?: number }
  | { raw: string; status: number }
  | { hang: true }
  | { destroy: true }

export type StubHandler = (request: RecordedRequest) => StubReply

/** A stand-in Bot API on 127.0.0.1: canned replies per method, every request recorded. */
export async function startStub(handler: StubHandler) {
  const requests: RecordedRequest[] = []
  const hanging = new Set<ServerResponse>()
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const match = /^\/bot([^/]+)\/(?:test\/)?([A-Za-z]+)$/.exec(req.url ?? '')
      const text = Buffer.concat(chunks).toString('utf8')
      const recorded: RecordedRequest = {
        path: req.url ?? '',
        method: match?.[2] ?? '',
        token: decodeURIComponent(match?.[1] ?? ''),
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        contentType: req.headers['content-type'],
      }
      requests.push(recorded)
      const reply = handler(recorded)
      if ('hang' in reply) {
        hanging.add(res)
        return
      }
      if ('destroy' in reply) {
        req.socket.destroy()
        return
      }
      if ('raw' in reply) {
        res.writeHead(reply.status, { 'content-type': 'text/html' }).end(reply.raw)
        return
      }
      res
        .writeHead(reply.status ?? 200, { 'content-type': 'application/json' })
        .end(JSON.stringify(reply.json))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    apiRoot: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export const ok = (result: unknown): StubReply => ({ json: { ok: true, result } })
export const fail = (
  error_code: number,
  description: string,
  parameters?: Record<string, unknown>,
): StubReply => ({
  status: error_code,
  json: { ok: false, error_code, description, ...(parameters ? { parameters } : {}) },
})
