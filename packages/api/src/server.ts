import type { IncomingHttpHeaders } from 'node:http'
import { type ApiDependencies, createInnerContext } from './trpc.ts'

/** Reads the API key from `Authorization: Bearer …`; everything else comes from `deps`. */
export function createHttpContextFactory(deps: ApiDependencies) {
  return ({ req }: { req: { headers: IncomingHttpHeaders } }) => {
    const header = req.headers.authorization
    const apiKey = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : null
    return createInnerContext(deps, { apiKey })
  }
}
