type Method = 'GET' | 'POST'

/**
 * The procedure meta: the part of trpc-to-openapi's `OpenApiMeta` this API uses, declared here so
 * `AppRouter`'s published types (the `@e-stars/client` .d.ts) do not carry zod-openapi's.
 */
export interface RestMeta {
  openapi?: { method: Method; path: `/${string}`; summary: string; tags: string[]; protect: true }
}

/**
 * Where a bot procedure is also served as REST under `/api/v1` (rest/handler.ts dispatches by it,
 * rest/document.ts documents it): the same procedure runs, so its rules are the tRPC call's.
 * Every route takes the API key (`protect`); the tag is the router's name.
 */
export function rest(method: Method, path: `/${string}`, summary: string): RestMeta {
  const tag = path.split('/')[1] ?? 'e-stars'
  return { openapi: { method, path, summary, tags: [tag], protect: true } }
}
