import type { AnyProcedure } from '@trpc/server'
import type { z } from 'zod'
import { appRouter } from '../root.ts'
import type { RestMeta } from './route.ts'

/** One REST route: a bot procedure of `appRouter` and where `.meta(rest(…))` put it. */
export interface RestRoute {
  /** The tRPC path, e.g. `usage.consume`. */
  procedure: string
  method: 'GET' | 'POST'
  /** The path under `/api/v1`, with `{param}`s, e.g. `/customers/{telegramUserId}/balance`. */
  path: string
  /** The procedure's input schema, absent for a procedure without input. */
  input: z.ZodType | undefined
  type: 'query' | 'mutation'
  match(pathname: string): Record<string, string> | null
}

/** The first segment of every procedure a bot calls with its API key (the rest are not REST). */
export const NOT_BOT_FACING = [
  'operator',
  'miniApp',
  'me',
  'webhooks',
  'refundAbuse',
  'margin',
] as const

function compile(path: string): RestRoute['match'] {
  const names: string[] = []
  const source = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name)
    return '([^/]+)'
  })
  const pattern = new RegExp(`^${source}/?$`)
  return (pathname) => {
    const found = pattern.exec(pathname)
    if (!found) return null
    const params: Record<string, string> = {}
    names.forEach((name, i) => {
      params[name] = decodeURIComponent(found[i + 1] ?? '')
    })
    return params
  }
}

/** Every procedure with an `openapi` meta, read from the one router tRPC serves too. */
export function restRoutes(): RestRoute[] {
  const procedures = appRouter._def.procedures as unknown as Record<string, AnyProcedure>
  const routes: RestRoute[] = []
  for (const [name, procedure] of Object.entries(procedures)) {
    const openapi = (procedure._def.meta as RestMeta | undefined)?.openapi
    if (!openapi) continue
    const inputs = (procedure._def as unknown as { inputs: z.ZodType[] }).inputs
    routes.push({
      procedure: name,
      method: openapi.method as RestRoute['method'],
      path: openapi.path,
      input: inputs[0],
      type: procedure._def.type as RestRoute['type'],
      match: compile(openapi.path),
    })
  }
  return routes
}
