import {
  type ApiDependencies,
  createRestHandler,
  openApiDocument,
  problemResponse,
  REST_BASE_PATH,
  type RestResponse,
} from '@e-stars/api'
import { serializeError } from '@e-stars/db'
import { TRPCError } from '@trpc/server'
import express from 'express'
import { MAX_BODY_BYTES } from './app.ts'

/**
 * REST for bots in any language: `/api/v1/…` runs the same bot procedures as `/trpc` (see
 * packages/api/src/rest), with the same 1 MiB body limit, and `/api/v1/openapi.json` documents it.
 */
export function mountRest(app: express.Express, deps: ApiDependencies) {
  const handle = createRestHandler(deps)
  const document = JSON.stringify(openApiDocument(REST_BASE_PATH))
  const rest = express.Router()
  rest.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(document)
  })
  rest.use(express.json({ limit: MAX_BODY_BYTES, strict: false, type: () => true }))
  rest.use(async (req, res) => {
    const url = new URL(req.originalUrl, 'http://rest.invalid')
    const answer = await handle(
      {
        method: req.method,
        path: url.pathname.slice(REST_BASE_PATH.length) || '/',
        query: url.searchParams,
        body: req.body,
        headers: req.headers,
        socket: req.socket,
        ip: req.ip,
      },
      res,
    )
    send(res, answer)
  })
  // The body parser's refusals (not JSON, too large) answer problem+json too, never a stack.
  rest.use(
    (error: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
      if (res.headersSent) return next(error)
      const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown }
      if (type === 'entity.too.large')
        return send(res, problemOf('PAYLOAD_TOO_LARGE', `The body is over ${MAX_BODY_BYTES} bytes`))
      if (typeof status === 'number' && status >= 400 && status < 500)
        return send(res, problemOf('BAD_REQUEST', 'The body is not valid JSON', true))
      deps.logger.error({ err: serializeError(error) }, 'unexpected REST error')
      send(res, problemOf('INTERNAL_SERVER_ERROR', 'Internal server error'))
    },
  )
  app.use(REST_BASE_PATH, rest)
}

function problemOf(code: TRPCError['code'], message: string, body = false): RestResponse {
  const answer = problemResponse(new TRPCError({ code, message }))
  const problem = answer.body as Record<string, unknown>
  if (body) Object.assign(problem, { field: 'body', errors: [{ field: 'body', message }] })
  return answer
}

function send(res: express.Response, answer: RestResponse) {
  res.status(answer.status)
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value)
  if (!answer.headers['content-type']) res.type('application/json')
  res.send(JSON.stringify(answer.body))
}
