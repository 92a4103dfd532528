import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import {
  BillingError,
  createApiKey,
  createOperator,
  createProject,
  isTimeZone,
  listApiKeys,
  listProjects,
  type OperatorRole,
  resetOperatorPassword,
  revokeApiKey,
  verifyLedger,
} from '@e-stars/billing'
import type { Db } from '@e-stars/db'
import { z } from 'zod'

export interface CommandResult {
  json: unknown
  text: string
  /** Non-zero when the command found a problem (the CLI exits with it). */
  exitCode?: number
}

/** A command refused for a reason its user can fix; the message is one line, never SQL. */
export class AdminCommandError extends Error {
  override name = 'AdminCommandError'
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 | 422 = 422,
  ) {
    super(message)
  }
}

/** Wrong or missing arguments (the message may carry the usage). */
export class UsageError extends AdminCommandError {
  override name = 'UsageError'
  constructor(message: string) {
    super(message, 400)
  }
}

export const usage = `Usage: pnpm cli <command> [options] [--json]

  project create <name> [--time-zone Europe/Berlin]
  project list
  key create --project <id> [--name <name>]     prints the key once
  key list --project <id>
  key revoke --project <id> <keyId>
  operator create <email> [--name <name>] [--password <pw>] [--project <id>] [--role owner|viewer]
  operator reset-password <email> [--password <pw>]  prints a new one once; signs the operator out
  ledger verify [--project <id>]                walks the hash chains; exits 1 on a finding`

/** One line of text: no control characters, no lone surrogates (PostgreSQL refuses a NUL). */
const label = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .refine((s) => !/\p{Cc}/u.test(s), 'must not contain control characters')
  .refine((s) => !/\p{Cs}/u.test(s), 'must be well-formed Unicode')

const argument = {
  '--project': z.uuid('must be a project id (a UUID, see: pnpm cli project list)'),
  '<keyId>': z.uuid('must be a key id (a UUID, see: pnpm cli key list --project <id>)'),
  '<name>': label,
  '--name': label,
  // The engine judges the address itself; this keeps control characters away from the database.
  '<email>': label.pipe(z.string().max(254, 'must be at most 254 characters')),
  '--password': z
    .string()
    .min(8, 'must be at least 8 characters')
    .max(200, 'must be at most 200 characters')
    .refine((s) => !/\p{Cc}/u.test(s), 'must not contain control characters'),
  '--role': z.enum(['owner', 'viewer'], 'must be owner or viewer'),
  '--time-zone': z
    .string()
    .refine((s) => isTimeZone(s), 'must be an IANA time zone such as Europe/Berlin or UTC'),
}

/** Checks one argument; the error names it and says what it must be. */
function valid<K extends keyof typeof argument>(
  what: K,
  value: string,
): z.output<(typeof argument)[K]> {
  const result = argument[what].safeParse(value)
  if (!result.success)
    throw new UsageError(`${what} ${result.error.issues[0]?.message ?? 'is invalid'}`)
  return result.data as z.output<(typeof argument)[K]>
}

/** A command whose arguments were checked: nothing reaches the database unchecked. */
export type AdminCommand =
  | { command: 'project create'; name: string; timeZone: string | undefined }
  | { command: 'project list' }
  | { command: 'key create'; projectId: string; name: string }
  | { command: 'key list'; projectId: string }
  | { command: 'key revoke'; projectId: string; keyId: string }
  | {
      command: 'operator create'
      email: string
      name: string | undefined
      password: string | undefined
      projectId: string | undefined
      role: OperatorRole
    }
  | { command: 'operator reset-password'; email: string; password: string | undefined }
  | { command: 'ledger verify'; projectId: string | undefined }

/** Parses and checks the arguments, without touching the database. Throws UsageError. */
export function parseAdminCommand(argv: unknown): AdminCommand {
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string'))
    throw new UsageError('argv must be a list of strings')
  let parsed: ReturnType<typeof parseOptions>
  try {
    parsed = parseOptions(argv)
  } catch (error) {
    // node:util's first line names the option: `Unknown option '--projct'`.
    throw new UsageError(`${(error as Error).message.split('\n')[0]}\n\n${usage}`)
  }
  const { values, positionals } = parsed
  const [area, action, arg, ...extra] = positionals
  if (extra.length > 0) throw new UsageError(`Unexpected argument "${extra[0]}".\n\n${usage}`)
  const need = <K extends keyof typeof argument>(value: string | undefined, what: K) => {
    if (value === undefined) throw new UsageError(`Missing ${what}.\n\n${usage}`)
    return valid(what, value)
  }
  const optional = <K extends keyof typeof argument>(value: string | undefined, what: K) =>
    value === undefined ? undefined : valid(what, value)
  const command = `${area} ${action}`
  switch (command) {
    case 'project create':
      return {
        command,
        name: need(arg, '<name>'),
        timeZone: optional(values['time-zone'], '--time-zone'),
      }
    case 'project list':
      return { command }
    case 'key create':
      return {
        command,
        projectId: need(values.project, '--project'),
        name: optional(values.name, '--name') ?? 'default',
      }
    case 'key list':
      return { command, projectId: need(values.project, '--project') }
    case 'key revoke':
      return {
        command,
        projectId: need(values.project, '--project'),
        keyId: need(arg, '<keyId>'),
      }
    case 'operator create':
      return {
        command,
        email: need(arg, '<email>'),
        name: optional(values.name, '--name'),
        password: optional(values.password, '--password'),
        projectId: optional(values.project, '--project'),
        role: optional(values.role, '--role') ?? 'owner',
      }
    case 'operator reset-password':
      return {
        command,
        email: need(arg, '<email>'),
        password: optional(values.password, '--password'),
      }
    case 'ledger verify':
      if (arg !== undefined) throw new UsageError(`Unexpected argument "${arg}".\n\n${usage}`)
      return { command, projectId: optional(values.project, '--project') }
    default:
      throw new UsageError(usage)
  }
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean' },
      project: { type: 'string' },
      name: { type: 'string' },
      password: { type: 'string' },
      role: { type: 'string' },
      'time-zone': { type: 'string' },
    },
  })
}

/** The admin commands, shared by the CLI and the running server's loopback admin endpoint. */
export async function runAdminCommand(
  db: Db,
  argv: unknown,
  command: AdminCommand = parseAdminCommand(argv),
): Promise<CommandResult> {
  try {
    return await run(db, command)
  } catch (error) {
    // The engine's refusals (unknown project, taken email…) are for the user; anything else is not.
    if (error instanceof BillingError)
      throw new AdminCommandError(error.message, error.code === 'NOT_FOUND' ? 404 : 422)
    throw error
  }
}

async function run(db: Db, c: AdminCommand): Promise<CommandResult> {
  switch (c.command) {
    case 'project create': {
      const project = await createProject(db, { name: c.name, timeZone: c.timeZone })
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
      const key = await createApiKey(db, { projectId: c.projectId, name: c.name })
      return {
        json: key,
        text: `API key "${key.name}" (${key.id}) — shown once, store it now:\n\n  ${key.key}\n`,
      }
    }
    case 'key list': {
      const keys = await listApiKeys(db, c.projectId)
      return {
        json: keys,
        text:
          keys
            .map((k) => `${k.id}  ${k.prefix}…  ${k.name}${k.revokedAt ? '  (revoked)' : ''}`)
            .join('\n') || 'No keys.',
      }
    }
    case 'key revoke': {
      const result = await revokeApiKey(db, { projectId: c.projectId, keyId: c.keyId })
      return { json: result, text: `Revoked key ${result.id}` }
    }
    case 'operator create': {
      const password = c.password ?? newPassword()
      const operator = await createOperator(db, {
        email: c.email,
        name: c.name,
        password,
        projectId: c.projectId,
        role: c.role,
      })
      const generated = c.password ? {} : { password }
      return {
        json: { ...operator, ...generated },
        text: `Created operator ${operator.email}${operator.projectId ? ` (${operator.role} of ${operator.projectId})` : ''}${
          c.password ? '' : `\nPassword (shown once): ${password}`
        }`,
      }
    }
    case 'operator reset-password': {
      const password = c.password ?? newPassword()
      const operator = await resetOperatorPassword(db, { email: c.email, password })
      return {
        json: { ...operator, ...(c.password ? {} : { password }) },
        text: `New password for ${operator.email}; ${operator.sessionsEnded} console session(s) signed out${
          c.password ? '' : `\nPassword (shown once): ${password}`
        }`,
      }
    }
    case 'ledger verify':
      return ledgerReport(await verifyLedger(db, { projectId: c.projectId }))
  }
}

/** A generated password: 16 characters, 96 bits. */
const newPassword = () => randomBytes(12).toString('base64url')

/** The verifier's answer: a summary line, then each broken customer's first broken entry. */
function ledgerReport(verification: Awaited<ReturnType<typeof verifyLedger>>): CommandResult {
  const { projects, customers, entries, unchainedEntries, findings } = verification
  const summary = `Verified ${entries} ledger entries of ${customers} customers in ${projects} projects${
    unchainedEntries ? ` (${unchainedEntries} written before the chain began)` : ''
  }: ${findings.length ? `${findings.length} broken` : 'no findings'}.`
  const lines = findings.map(
    (f) =>
      `  project ${f.projectId} customer ${f.customerId} (Telegram user ${f.telegramUserId}) entry ${f.entryId ?? '-'}: ${f.problem}: ${f.detail}`,
  )
  return {
    json: verification,
    text: [summary, ...lines].join('\n'),
    exitCode: findings.length ? 1 : 0,
  }
}

export const wantsJson = (argv: string[]) => argv.includes('--json')
