import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import {
  createApiKey,
  createOperator,
  createProject,
  listApiKeys,
  listProjects,
  type OperatorRole,
  revokeApiKey,
} from '@e-stars/billing'
import type { Db } from '@e-stars/db'

export interface CommandResult {
  json: unknown
  text: string
}

export class UsageError extends Error {}

export const usage = `Usage: pnpm cli <command> [options] [--json]

  project create <name> [--time-zone Europe/Berlin]
  project list
  key create --project <id> [--name <name>]     prints the key once
  key list --project <id>
  key revoke --project <id> <keyId>
  operator create <email> [--name <name>] [--password <pw>] [--project <id>] [--role owner|viewer]`

/** The admin commands, shared by the CLI and the running server's loopback admin endpoint. */
export async function runAdminCommand(db: Db, argv: string[]): Promise<CommandResult> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      project: { type: 'string' },
      name: { type: 'string' },
      password: { type: 'string' },
      role: { type: 'string' },
      'time-zone': { type: 'string' },
    },
  })
  const [area, action, arg] = positionals
  const need = (value: string | undefined, what: string) => {
    if (!value) throw new UsageError(`Missing ${what}.\n\n${usage}`)
    return value
  }
  switch (`${area} ${action}`) {
    case 'project create': {
      const project = await createProject(db, {
        name: need(arg, '<name>'),
        timeZone: values['time-zone'],
      })
      return { json: project, text: `Created project "${project.name}" (${project.id})` }
    }
    case 'project list': {
      const projects = await listProjects(db)
      return {
        json: projects,
        text: projects.map((p) => `${p.id}  ${p.name}`).join('\n') || 'No projects.',
      }
    }
    case 'key create': {
      const key = await createApiKey(db, {
        projectId: need(values.project, '--project'),
        name: values.name ?? 'default',
      })
      return {
        json: key,
        text: `API key "${key.name}" (${key.id}) — shown once, store it now:\n\n  ${key.key}\n`,
      }
    }
    case 'key list': {
      const keys = await listApiKeys(db, need(values.project, '--project'))
      return {
        json: keys,
        text:
          keys
            .map((k) => `${k.id}  ${k.prefix}…  ${k.name}${k.revokedAt ? '  (revoked)' : ''}`)
            .join('\n') || 'No keys.',
      }
    }
    case 'key revoke': {
      const result = await revokeApiKey(db, {
        projectId: need(values.project, '--project'),
        keyId: need(arg, '<keyId>'),
      })
      return { json: result, text: `Revoked key ${result.id}` }
    }
    case 'operator create': {
      const role = values.role ?? 'owner'
      if (role !== 'owner' && role !== 'viewer')
        throw new UsageError('--role must be owner or viewer')
      const password = values.password ?? randomBytes(12).toString('base64url')
      const operator = await createOperator(db, {
        email: need(arg, '<email>'),
        name: values.name,
        password,
        projectId: values.project,
        role: role as OperatorRole,
      })
      const generated = values.password ? {} : { password }
      return {
        json: { ...operator, ...generated },
        text: `Created operator ${operator.email}${operator.projectId ? ` (${operator.role} of ${operator.projectId})` : ''}${
          values.password ? '' : `\nPassword (shown once): ${password}`
        }`,
      }
    }
    default:
      throw new UsageError(usage)
  }
}

export const wantsJson = (argv: string[]) => argv.includes('--json')
