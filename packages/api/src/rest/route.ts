import type { OpenApiMeta } from 'trpc-to-openapi'

type Method = 'GET' | 'POST'

/**
 * Where a bot procedure is also served as REST under `/api/v1` (rest/handler.ts dispatches by it,
 * rest/document.ts documents it): the same procedure runs, so its rules are the tRPC call's.
 * Every route takes the API key (`protect`); the tag is the router's name.
 */
export function rest(method: Method, path: `/${string}`, summary: string): OpenApiMeta {
  const tag = path.split('/')[1] ?? 'e-stars'
  return { openapi: { method, path, summary, tags: [tag], protect: true } }
}
